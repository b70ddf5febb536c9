/**
 * Imported first by the bench scripts: the local runtime's function settings (log level,
 * Powertools dev mode, which also turns off EMF metrics) must be in place before any function
 * module creates its logger and metrics, as `npm start` has them. Without this the bench's own
 * early imports made every function log at INFO and print metrics, costing the figures CPU.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_DEV ??= 'true';

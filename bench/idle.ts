/**
 * The idle inventory for the cost model, from the stack itself: HeraldStack synthesized in
 * process (no bundling, no AWS calls) and its billable standing resources counted: alarms,
 * dashboards, API Gateway stages with detailed (per-method) metrics and their methods, KMS keys,
 * SQS event source mappings (Lambda's pollers), scheduled rules; plus the custom metric names
 * the functions emit as EMF (metrics.addMetric in lambdas/), and the access-log format.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { HeraldStack } from '../lib/herald-stack.ts';

type Resource = { Type: string; Properties?: Record<string, any> };

export function synthesizedTemplate(): Record<string, Resource> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new HeraldStack(app, 'HeraldCost');
  const assembly = app.synth();
  return (assembly.getStackByName(stack.stackName).template as { Resources: Record<string, Resource> }).Resources;
}

/** EMF metric names: literal names, and the template-literal ones expanded from their sources. */
export function customMetricNames(root = new URL('..', import.meta.url).pathname): { name: string; publishedWhenIdle: boolean }[] {
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  const names = new Set<string>();
  // None is published while idle: the sweeper's two only when a sweep repaired something.
  const idle = new Set<string>();
  for (const file of files(join(root, 'lambdas'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/addMetric\(\s*([`'])(.*?)\1/g)) {
      const name = m[2]!;
      // Outcomes of an attempt (lambdas/core/deliver.ts DeliverOutcome): succeeded, retry, failed, held.
      if (name === 'deliveries_${outcome.kind}') for (const k of ['succeeded', 'retry', 'failed', 'held']) names.add(`deliveries_${k}`);
      else names.add(name);
    }
  }
  return [...names].sort().map((name) => ({ name, publishedWhenIdle: idle.has(name) }));
}

export function idleInventory() {
  const resources = Object.values(synthesizedTemplate());
  const of = (type: string) => resources.filter((r) => r.Type === type);
  const stagesWithMetrics = of('AWS::ApiGateway::Stage').filter((s) => (s.Properties?.MethodSettings ?? []).some((m: any) => m.MetricsEnabled));
  const methods = of('AWS::ApiGateway::Method');
  const mappings = of('AWS::Lambda::EventSourceMapping');
  const queues = Object.entries(synthesizedTemplateCache ??= synthesizedTemplate());
  const fifoQueueIds = new Set(queues.filter(([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties?.FifoQueue).map(([id]) => id));
  const accessLogFormat = String(stagesWithMetrics[0]?.Properties?.AccessLogSetting?.Format ?? of('AWS::ApiGateway::Stage')[0]?.Properties?.AccessLogSetting?.Format ?? '');
  const schedules = of('AWS::Events::Rule').filter((r) => r.Properties?.ScheduleExpression);
  const perMonth = (expr: string) => {
    const m = /rate\((\d+) (minute|minutes|hour|hours)\)/.exec(expr);
    if (!m) return 0;
    const minutes = Number(m[1]) * (m[2]!.startsWith('hour') ? 60 : 1);
    return (30 * 24 * 60) / minutes;
  };
  return {
    // Billed per metric an alarm evaluates: a metric-math alarm counts each metric in its expression.
    alarms: of('AWS::CloudWatch::Alarm').reduce((a, r) => a + Math.max(1, (r.Properties?.Metrics ?? []).filter((m: { MetricStat?: unknown }) => m.MetricStat).length), 0),
    alarmResources: of('AWS::CloudWatch::Alarm').length,
    dashboards: of('AWS::CloudWatch::Dashboard').length,
    customMetrics: customMetricNames(),
    apiMethodsWithDetailedMetrics: stagesWithMetrics.length > 0 ? methods.length : 0,
    apiMethods: methods.map((m) => `${m.Properties?.HttpMethod}`),
    // Count, 4XXError, 5XXError, Latency, IntegrationLatency, CacheHitCount, CacheMissCount.
    apiMetricsPerMethod: 7,
    kmsKeys: of('AWS::KMS::Key').length,
    kmsRotationEnabled: of('AWS::KMS::Key').filter((k) => k.Properties?.EnableKeyRotation).length,
    sqsEventSourceMappings: mappings.map((m) => ({ fifo: JSON.stringify(m.Properties?.EventSourceArn ?? '').match(/"([A-Za-z0-9]+)"/g)?.some((id) => fifoQueueIds.has(id.replace(/"/g, ''))) ?? false })),
    scheduledInvocationsPerMonth: schedules.reduce((a, r) => a + perMonth(String(r.Properties!.ScheduleExpression)), 0),
    functions: of('AWS::Lambda::Function').map((f) => ({ memoryMb: f.Properties?.MemorySize, tracing: f.Properties?.TracingConfig?.Mode, logLevel: f.Properties?.Environment?.Variables?.POWERTOOLS_LOG_LEVEL ?? f.Properties?.LoggingConfig?.ApplicationLogLevel ?? 'INFO (default)', systemLogLevel: f.Properties?.LoggingConfig?.SystemLogLevel ?? 'INFO (default)' })),
    apiTracing: of('AWS::ApiGateway::Stage').map((s) => s.Properties?.TracingEnabled),
    /** Lambda's platform lines (START/REPORT, at INFO) are written only when the system log level lets INFO through. */
    platformLinesWritten: of('AWS::Lambda::Function')
      .filter((f) => f.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'herald')
      .some((f) => !['WARN', 'ERROR', 'FATAL'].includes(f.Properties?.LoggingConfig?.SystemLogLevel ?? 'INFO')),
    /** The stack's own X-Ray sampling rule, or none (then the account's default rule applies). */
    samplingRule: of('AWS::XRay::SamplingRule').map((r) => ({ fixedRate: Number(r.Properties?.SamplingRule?.FixedRate), reservoirPerSecond: Number(r.Properties?.SamplingRule?.ReservoirSize) }))[0],
    accessLogFormat,
  };
}
let synthesizedTemplateCache: Record<string, Resource> | undefined;

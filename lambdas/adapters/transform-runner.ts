import { Worker } from 'node:worker_threads';
import type { TransformRunner } from '#core/ports';
import { JSONATA_OPTIONS, TRANSFORM_LIMITS, type TransformResult } from '#core/transform';

/**
 * JSONata transforms in a worker thread (transform-worker.mjs), one per container, started the
 * first time a transform runs. The worker has its own heap limit; each evaluation has a
 * wall-clock deadline, past which the worker is stopped and a fresh one started for the next.
 * Evaluations go through one at a time, each with its own deadline from when it starts, so a
 * slow transform never costs an unrelated one its attempt. A worker that runs out of memory
 * fails only the evaluation it was running.
 *
 * The worker file sits next to this module in the source tree and next to index.mjs in the
 * deliver function's bundle (herald-function.ts bundles it there).
 */
export type TransformLimits = { -readonly [K in keyof typeof TRANSFORM_LIMITS]: number };

interface Pending {
  id: number;
  expression: string;
  input: unknown;
  resolve: (result: TransformResult) => void;
  timer?: NodeJS.Timeout;
}

type Answer = { id: number } & TransformResult;

export class WorkerTransformRunner implements TransformRunner {
  private readonly limits: TransformLimits;
  private worker: Worker | undefined;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private nextId = 1;
  /** Workers started so far (for tests and diagnostics). */
  started = 0;

  constructor(
    limits: Partial<TransformLimits> = {},
    private readonly workerUrl: URL = new URL('./transform-worker.mjs', import.meta.url),
    /** JSONata's own guards: JSONATA_OPTIONS, as the API checks expressions (tests may loosen them). */
    private readonly options = JSONATA_OPTIONS,
  ) {
    this.limits = { ...TRANSFORM_LIMITS, ...limits };
  }

  run(expression: string, input: unknown): Promise<TransformResult> {
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, expression, input, resolve });
      this.next();
    });
  }

  /** Stops the worker (tests, local shutdown); the next evaluation starts a new one. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private next(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) return;
    this.current = job;
    let worker: Worker;
    try {
      worker = this.worker ??= this.start();
    } catch (error) {
      this.finish(job, { ok: false, reason: `the transform could not run: ${(error as Error).message}` });
      return;
    }
    job.timer = setTimeout(() => {
      this.stop(worker);
      this.finish(job, { ok: false, reason: `the transform took longer than ${this.limits.deadlineMs / 1000} s` });
    }, this.limits.deadlineMs);
    try {
      worker.postMessage({ id: job.id, expression: job.expression, input: job.input });
    } catch (error) {
      // The input could not be copied to the worker (not plain data); the worker is untouched.
      this.finish(job, { ok: false, reason: `the transform could not run: ${(error as Error).message}` });
    }
  }

  private start(): Worker {
    const { memoryMb, youngGenerationMb, stackMb, maxOutputBytes, maxCached, maxStringChars } = this.limits;
    const worker = new Worker(this.workerUrl, {
      workerData: { options: this.options, maxOutputBytes, maxCached, maxStringChars, memoryMb },
      resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: youngGenerationMb, stackSizeMb: stackMb },
      stdout: false,
      stderr: false,
    });
    this.started++;
    // An idle worker does not keep the process alive; a running evaluation's deadline timer does.
    worker.unref();
    worker.on('message', (answer: Answer) => {
      const job = this.current;
      if (this.worker !== worker || !job || answer.id !== job.id) return;
      const { id: _, ...result } = answer;
      this.finish(job, result as TransformResult);
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      this.stop(worker);
      const reason =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `the transform exceeded its ${memoryMb} MB memory limit`
          : `the transform's worker failed: ${error.message}`;
      if (this.current) this.finish(this.current, { ok: false, reason });
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (this.current) this.finish(this.current, { ok: false, reason: `the transform's worker stopped (exit code ${code})` });
    });
    return worker;
  }

  /** Forgets the worker and stops it; the next evaluation starts a fresh one. */
  private stop(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate().catch(() => undefined);
  }

  private finish(job: Pending, result: TransformResult): void {
    if (this.current !== job) return;
    clearTimeout(job.timer);
    this.current = undefined;
    job.resolve(result);
    this.next();
  }
}

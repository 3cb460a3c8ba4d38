/**
 * A fixed pool of encoder workers (worker threads). Requests go to the least busy worker;
 * model loads go to every worker. A worker that dies is replaced and its models reloaded;
 * the requests it held fail with a retryable error instead of hanging.
 */
import type { Worker } from 'node:worker_threads';
import { DomainError } from '../errors.ts';
import { startTsWorker } from '../lib/ts-worker.ts';
import type { EncoderSettings, WorkerRequest, WorkerResponse, WorkerResult } from './protocol.ts';
import type { LabelBank } from '../neglabel/scoring.ts';

type Pending = { resolve: (r: WorkerResult) => void; reject: (e: Error) => void };
type Slot = { worker: Worker; pending: Map<number, Pending> };
type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const WORKER_MODULE = new URL('./encoder-worker.ts', import.meta.url);

export class EncoderWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly loads = new Map<string, string>();
  private readonly banks = new Map<string, LabelBank>();
  private nextId = 1;
  /** completed requests and their total time from send to answer */
  readonly timing = { requests: 0, seconds: 0 };
  private closed = false;

  constructor(
    readonly size: number,
    private readonly settings: EncoderSettings,
    private readonly onWorkerError: (error: Error) => void = () => {},
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = startTsWorker(WORKER_MODULE);
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (message: WorkerResponse) => {
      const pending = slot.pending.get(message.id);
      if (!pending) return;
      slot.pending.delete(message.id);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new DomainError(message.error.code, message.error.message, message.error.details));
    });
    worker.on('error', (error) => this.onWorkerError(error));
    worker.on('exit', () => {
      for (const pending of slot.pending.values()) {
        pending.reject(
          new DomainError('ENCODER_UNAVAILABLE', 'The encoder worker stopped while handling this request: retry it.'),
        );
      }
      slot.pending.clear();
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index >= 0) {
        this.slots[index] = this.spawn();
        for (const [modelId, dir] of this.loads)
          void this.send(this.slots[index], { kind: 'load', modelId, dir, settings: this.settings }).catch(() => {});
        for (const [key, bank] of this.banks)
          void this.send(this.slots[index], { kind: 'bank', key, bank }).catch(() => {});
      }
    });
    return slot;
  }

  private send(slot: Slot, body: RequestBody, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    if (this.closed)
      return Promise.reject(
        new DomainError('SHUTTING_DOWN', 'The service is shutting down: retry on another instance.'),
      );
    const id = this.nextId++;
    const started = performance.now();
    return new Promise<WorkerResult>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...body, id }, transfer);
    }).finally(() => {
      this.timing.requests++;
      this.timing.seconds += (performance.now() - started) / 1000;
    });
  }

  /** Loads a model into every worker; resolves with the first worker's answer. */
  async load(modelId: string, dir: string): Promise<Extract<WorkerResult, { kind: 'load' }>> {
    this.loads.set(modelId, dir);
    try {
      const results = await Promise.all(
        this.slots.map((slot) => this.send(slot, { kind: 'load', modelId, dir, settings: this.settings })),
      );
      return results[0] as Extract<WorkerResult, { kind: 'load' }>;
    } catch (error) {
      this.loads.delete(modelId);
      throw error;
    }
  }

  /** Keeps a label bank in every worker (copied to each) for 'score' requests. */
  async registerBank(key: string, bank: LabelBank): Promise<void> {
    this.banks.set(key, bank);
    await Promise.all(this.slots.map((slot) => this.send(slot, { kind: 'bank', key, bank })));
  }

  /** Forgets a bank here and in every worker (a worker that misses the message is replaced without it). */
  dropBank(key: string): void {
    this.banks.delete(key);
    for (const slot of this.slots) void this.send(slot, { kind: 'drop-bank', key }).catch(() => {});
  }

  /** The number of scoring heads (label banks) each worker holds. */
  async headCounts(): Promise<number[]> {
    const results = await Promise.all(this.slots.map((slot) => this.send(slot, { kind: 'head-count' })));
    return results.map((result) => (result as Extract<WorkerResult, { kind: 'head-count' }>).count);
  }

  /** Sends a request to the worker with the fewest requests in flight. */
  run(
    body: Exclude<RequestBody, { kind: 'load' | 'bank' | 'drop-bank' | 'head-count' }>,
    transfer: ArrayBuffer[] = [],
  ): Promise<WorkerResult> {
    const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    return this.send(slot, body, transfer);
  }

  /** Some worker has nothing to do: work sent now starts at once. */
  get hasIdleWorker(): boolean {
    return this.slots.some((s) => s.pending.size === 0);
  }

  get inFlight(): number {
    return this.slots.reduce((sum, s) => sum + s.pending.size, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * CPU priority of background threads. The encoder threads keep every core busy under load on
 * purpose (they are the throughput); at the same priority, the request thread woken by a new
 * request or a finished query waited for one of them to give up its time slice, and the GraphQL
 * `health` probe's p95 with it (measured under the load test: 49–68 ms before, 21–44 ms with the
 * encoders at nice 10; their throughput did not drop, since they still get every cycle the
 * request thread leaves). The order is request thread (0), database thread (10), encoders and
 * mining math (15): side by side under the load test, `/healthz` p95 10.6 and 12.5 ms with
 * 5 / 10, 8.0–8.4 ms with 10 / 15 or 19, throughput unchanged (110–123 req/s against 115–116).
 * Linux sets `nice` per thread; elsewhere this does nothing, since there it would lower the whole
 * process.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** Lowers the calling thread's priority to at least `nice` (0 leaves it as it is). */
export function lowerThisThreadPriority(nice: number): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  // "/proc/thread-self" links to "<pid>/task/<tid>"
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (os.getPriority(tid) < nice) os.setPriority(tid, nice);
}

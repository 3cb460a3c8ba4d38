/**
 * Worker threads running TypeScript modules. On Node 20 a worker does not get the parent's
 * `--import tsx` loader before its entry module, so the entry registers tsx itself first.
 */
import { Worker } from 'node:worker_threads';

export function startTsWorker(moduleUrl: URL): Worker {
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

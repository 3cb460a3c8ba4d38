/**
 * `npm run eval`: the OOD benchmark on the default model (models/emoji-clip-small), printed as
 * markdown; with --write-readme the README's benchmark section is replaced by this run's report.
 */
import path from 'node:path';
import { writeReadmeSection } from '../readme-section.ts';
import { report, runBenchmark } from './ood-benchmark.ts';

const modelDir = process.env.NEGLABEL_MODEL_DIR ?? path.resolve('models/emoji-clip-small');
const started = Date.now();
const result = await runBenchmark({ modelDir, onProgress: (m) => console.error(m) });
const text = report(result);
console.log(text);
console.error(`benchmark took ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (process.argv.includes('--write-readme')) writeReadmeSection('eval', text);

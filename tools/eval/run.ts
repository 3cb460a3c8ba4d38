/**
 * `npm run eval`: the OOD benchmark on the default model (models/emoji-clip-small), printed as a
 * table; with --write-readme the README's benchmark section is replaced by this run's table.
 */
import path from 'node:path';
import { writeReadmeSection } from '../readme-section.ts';
import { markdownTable, runBenchmark } from './ood-benchmark.ts';

const modelDir = process.env.NEGLABEL_MODEL_DIR ?? path.resolve('models/emoji-clip-small');
const started = Date.now();
const results = await runBenchmark({ modelDir, onProgress: (m) => console.error(m) });
const table = markdownTable(results);
const negatives = results.map((r) => `${r.split}: ${r.negatives}`).join('; ');
const report = `Model \`${path.basename(modelDir)}\`, held-out style Fluent Emoji Flat; negatives mined over WordNet 3.1 (${negatives}).\n\n${table}\n`;
console.log(report);
console.error(`benchmark took ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (process.argv.includes('--write-readme')) writeReadmeSection('eval', report);

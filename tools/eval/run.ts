/**
 * `npm run eval`: the OOD benchmark on the default model (models/emoji-clip-small), printed as
 * markdown; with --write-readme the README's benchmark section is replaced by this run's report.
 */
import path from 'node:path';
import { writeReadmeSection } from '../readme-section.ts';
import { goals, report, runBenchmark } from './ood-benchmark.ts';

const modelDir = process.env.NEGLABEL_MODEL_DIR ?? path.resolve('models/emoji-clip-small');
const started = Date.now();
const result = await runBenchmark({ modelDir, onProgress: (m) => console.error(m) });
const text = report(result);
console.log(text);
console.error(`benchmark took ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (process.argv.includes('--write-readme')) {
  writeReadmeSection('eval', text);
  const card = path.join(modelDir, 'README.md');
  const top1 = result.zeroShotTop1.map((z) => `${z.rendering} ${(100 * z.top1).toFixed(1)} %`).join(', ');
  const summary = [
    `Zero-shot top-1 on the held-out style over all ${result.zeroShotTop1[0]?.images ?? 0} concept names: ${top1}.`,
    '',
    ...goals(result).map((g) => `- ${g.met ? 'met' : 'not met'}: ${g.goal}: ${g.measured}`),
    '',
    'Per-split AUROC and FPR95 with intervals, per rendering: the README\'s "OOD quality" section.',
  ].join('\n');
  writeReadmeSection('eval', summary, card);
}

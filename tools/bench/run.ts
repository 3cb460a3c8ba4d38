/**
 * `npm run bench`: every benchmark, each printed as a table of ratios measured side by side in
 * this one run (absolute times on shared machines are noise), with the process's peak RSS.
 * BENCH_SCALE=0.1 shrinks the problem sizes for a quick look.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeReadmeSection } from '../readme-section.ts';
import { miningBenchmark, scoringBenchmark, type Row } from './math.ts';
import { historyBenchmark } from './history.ts';
import { metricsBenchmark } from './metrics.ts';
import { corpusPassBenchmark, encoderPathBenchmark, reminingBenchmark } from './service.ts';
import { preprocessingBenchmark } from './preprocessing.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const report: string[] = [];

function table(title: string, rows: Row[]): void {
  const columns = Object.keys(rows[0]);
  const lines = [
    `#### ${title}`,
    '',
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${columns.map((c) => row[c] ?? '').join(' | ')} |`),
    '',
    `peak RSS of the benchmark process so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    '',
  ];
  console.log(lines.join('\n'));
  report.push(...lines);
}

const started = Date.now();
const n = Math.round(140_000 * scale);
table(
  `1. Mining math: ${n} candidates x 1000 ID labels x 512 dims (random unit vectors, seed 1/2)`,
  await miningBenchmark(n, 1000, 512),
);
table(
  '2. Scoring math: 1000 ID + 10,499 negatives (100 groups) x 512 dims, grouped score',
  await scoringBenchmark([1, 16, 256]),
);
table(
  '2b. OOD metrics (AUROC, FPR95 both ways, AUPR-In/Out, threshold95) at scale',
  metricsBenchmark(scale < 1 ? [10_000, 100_000] : [100_000, 1_000_000]),
);
const models = ['models/emoji-clip-small', 'models/clip-vit-b16'].filter((m) =>
  existsSync(path.join(m, 'vision_model.onnx')),
);
const images = ['rgb224.png', 'rgb640x480.jpg', 'rgb300x200.png', 'gray256.png'].map((f) =>
  readFileSync(path.join('test/fixtures/clip-tiny-random/images', f)),
);
const labels = readFileSync('test/fixtures/neglabel-reference/classnames_imagenet_classes.txt', 'utf8')
  .split('\n')
  .filter(Boolean);
const unique = [...new Set(labels.map((l) => l.toLowerCase()))];
for (const model of models) {
  table(
    `3. Encoder path, ${path.basename(model)}: raw ONNX session vs GraphQL over HTTP (embedImages as base64 JSON ` +
      `and uploads; scoreImages against ${unique.length} ImageNet labels and their mined negatives)`,
    await encoderPathBenchmark(path.resolve(model), images, unique, Math.max(32, Math.round(256 * scale))),
  );
  table(
    `4. Corpus pass, ${path.basename(model)}: WordNet prompts`,
    await corpusPassBenchmark(path.resolve(model), scale < 1 ? Math.round(70_000 * scale) : undefined),
  );
}
// the fixture model stands for any 224-px CLIP (its weights are random: its cosines say little)
const photos = ['rgb640x480.jpg', 'rgb640x480.png', 'rgb300x200.png', 'wide1000x100.jpg'].map((f): [string, Buffer] => [
  f,
  readFileSync(path.join('test/fixtures/clip-tiny-random/images', f)),
]);
table(
  '3b. Image preprocessing per core: exact (Pillow-exact resampling) vs fast (NEGLABEL_PREPROCESSING=fast, libvips)',
  await preprocessingBenchmark(
    [...models, 'test/fixtures/clip-tiny-random'].map((m) => path.resolve(m)),
    photos,
    2 * Math.max(scale, 0.25),
  ),
);
table(
  `5. Mining and re-mining, NegLabel and CSP, ${path.basename(models[0] ?? 'none')}: ${unique.length} ImageNet ` +
    'labels over WordNet',
  models.length ? await reminingBenchmark(path.resolve(models[0]), unique) : [{ skipped: 'no model in models/' }],
);
// 1,000,000 records take longer to seed in the embedded (WASM) database than the whole bench may
// run; HISTORY_RECORDS=1000000 runs the full size.
const historyRecords = Number(process.env.HISTORY_RECORDS ?? Math.round(200_000 * scale));
if (models.length) {
  const history = await historyBenchmark(path.resolve(models[0]), historyRecords, (m) => console.error(m));
  table(
    `6. History: ${historyRecords} scoring records (seeded in ${history.seedSeconds.toFixed(0)} s, HNSW index ` +
      `maintained), dashboard operations over HTTP`,
    history.rows,
  );
  const lines = ['Query plans:', '', ...history.plans.map((p) => `- ${p}`), ''];
  console.log(lines.join('\n'));
  report.push(...lines);
}
const took =
  `bench took ${((Date.now() - started) / 1000).toFixed(0)} ` + `s${scale !== 1 ? ` at BENCH_SCALE=${scale}` : ''}`;
console.log(took);
if (process.argv.includes('--write-readme')) writeReadmeSection('bench', [...report, took].join('\n'));

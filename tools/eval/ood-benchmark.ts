/**
 * OOD quality benchmark on emoji artwork of the held-out style, the way the NegLabel paper
 * evaluates: per ID/OOD split, NegLabel (reference defaults, mined over WordNet), NegLabel with the
 * reference's defects (no exclusion), NegLabel without grouping, and MCM (max softmax over the ID
 * labels of 100·cos), all on the same model and images. Uses the service's own encoder and engine.
 */
import { OnnxEncoder } from '../../src/inference/onnx-encoder.ts';
import { assignGroups } from '../../src/neglabel/grouping.ts';
import { candidateStatistics, selectNegatives } from '../../src/neglabel/mining.ts';
import { oodMetrics, type OodMetrics } from '../../src/neglabel/metrics.ts';
import { applyPrompt, DEFAULT_ADJECTIVE_PROMPT, DEFAULT_ID_PROMPT } from '../../src/neglabel/prompts.ts';
import { LOGIT_SCALE, scoreImage, similarities } from '../../src/neglabel/scoring.ts';
import { stack } from '../../src/inference/vectors.ts';
import { loadWordNetCorpus } from '../../src/services/corpus-source.ts';
import type { CorpusWord } from '../../src/neglabel/corpus.ts';
import { HELD_OUT_STYLE, loadConcepts, renderIcon, type EmojiConcept } from '../emoji/emoji-data.ts';

export interface Split {
  name: string;
  id: (c: EmojiConcept) => boolean;
  ood: (c: EmojiConcept) => boolean;
}

export const SPLITS: Split[] = [
  { name: 'animals vs. other emoji', id: (c) => c.subgroup.startsWith('animal-'), ood: (c) => c.group !== 'animals-nature' },
  { name: 'food & drink vs. other emoji', id: (c) => c.group === 'food-drink', ood: (c) => c.group !== 'food-drink' },
  { name: 'travel & places vs. other emoji', id: (c) => c.group === 'travel-places', ood: (c) => c.group !== 'travel-places' },
  { name: 'mammals vs. birds (near OOD)', id: (c) => c.subgroup === 'animal-mammal', ood: (c) => c.subgroup === 'animal-bird' },
];

export const METHODS = ['NegLabel', 'NegLabel, reference defects (no exclusion)', 'NegLabel, no grouping', 'MCM'] as const;
export type Method = (typeof METHODS)[number];

export interface SplitResult {
  split: string;
  idCount: number;
  oodCount: number;
  negatives: number;
  idAccuracy: number;
  methods: Record<Method, OodMetrics & { idScores: number[]; oodScores: number[] }>;
}

export interface BenchmarkOptions {
  modelDir: string;
  splits?: Split[];
  /** at most this many ID and this many OOD images per split (seeded subsample), for quick runs */
  maxImages?: number;
  corpus?: CorpusWord[];
  onProgress?: (message: string) => void;
}

/** Every `step`-th element so that at most `max` remain (deterministic). */
function subsample<T>(items: T[], max?: number): T[] {
  if (!max || items.length <= max) return items;
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]);
}

export async function runBenchmark(options: BenchmarkOptions): Promise<SplitResult[]> {
  const log = options.onProgress ?? (() => {});
  const encoder = await OnnxEncoder.start({ modelsDir: '/nonexistent', defaultModelDir: options.modelDir, workers: 2, maxBatchSize: 64, batchWindowMs: 2, maxImagePixels: 1e7, cacheEntries: 0 });
  try {
    const model = encoder.resolveModel(null);
    const dim = model.embeddingDim!;
    const concepts = loadConcepts();
    const corpus = options.corpus ?? loadWordNetCorpus();
    const prompts = corpus.map((w) => applyPrompt(w.pos === 'noun' ? DEFAULT_ID_PROMPT : DEFAULT_ADJECTIVE_PROMPT, w.text));
    log(`encoding ${prompts.length} corpus prompts`);
    const corpusMatrix = stack(await encoder.embedTextsBulk(model.id, prompts), dim);
    const imageCache = new Map<string, Float32Array>();
    const embedConcepts = async (list: EmojiConcept[]) => {
      const todo = list.filter((c) => !imageCache.has(c.hexcode));
      const pngs = await Promise.all(todo.map((c) => renderIcon(HELD_OUT_STYLE, c, 128)));
      const embedded = await encoder.embedImages(model.id, pngs.map((bytes) => ({ bytes })));
      todo.forEach((c, i) => imageCache.set(c.hexcode, embedded[i] as Float32Array));
      return list.map((c) => imageCache.get(c.hexcode)!);
    };

    const results: SplitResult[] = [];
    for (const split of options.splits ?? SPLITS) {
      const idConcepts = concepts.filter(split.id);
      const idImages = subsample(idConcepts, options.maxImages);
      const oodImages = subsample(concepts.filter((c) => split.ood(c) && !split.id(c)), options.maxImages);
      log(`${split.name}: ${idConcepts.length} ID labels, ${idImages.length} ID and ${oodImages.length} OOD images`);
      const labels = idConcepts.map((c) => c.label);
      const idMatrix = stack(await encoder.embedTextsBulk(model.id, labels.map((l) => applyPrompt(DEFAULT_ID_PROMPT, l))), dim);
      const [idEmb, oodEmb] = [await embedConcepts(idImages), await embedConcepts(oodImages)];
      const stats = candidateStatistics(corpusMatrix, idMatrix, dim, 0.95);

      const negLabel = (exclude: boolean, groups: number) => {
        const selection = selectNegatives(corpus, stats, labels, { selectionRatio: 0.15, excludeNearDuplicates: exclude, nearDuplicateThreshold: 0.95 });
        const { kept, group } = assignGroups(selection.indices.length, groups, 0);
        const negatives = new Float32Array(kept * dim);
        selection.indices.slice(0, kept).forEach((c, i) => negatives.set(corpusMatrix.subarray(c * dim, (c + 1) * dim), i * dim));
        const bank = { dim, idEmbeddings: idMatrix, negativeEmbeddings: negatives, negativeGroups: group, groupCount: groups };
        const score = (images: Float32Array[]) => images.map((e) => scoreImage(bank, e, 1).score);
        return { idScores: score(idEmb), oodScores: score(oodEmb), negatives: kept };
      };
      const mcm = (images: Float32Array[]) =>
        images.map((e) => {
          const sims = similarities(idMatrix, e, dim);
          let max = -Infinity;
          for (const s of sims) max = Math.max(max, s);
          let sum = 0;
          for (const s of sims) sum += Math.exp(LOGIT_SCALE * (s - max));
          return 1 / sum; // softmax of the best label
        });
      const runs: Record<Method, { idScores: number[]; oodScores: number[]; negatives?: number }> = {
        NegLabel: negLabel(true, 100),
        'NegLabel, reference defects (no exclusion)': negLabel(false, 100),
        'NegLabel, no grouping': negLabel(true, 1),
        MCM: { idScores: mcm(idEmb), oodScores: mcm(oodEmb) },
      };
      const correct = idImages.filter((c, i) => {
        const sims = similarities(idMatrix, idEmb[i], dim);
        return labels[sims.indexOf(Math.max(...sims))] === c.label;
      }).length;
      results.push({
        split: split.name,
        idCount: idImages.length,
        oodCount: oodImages.length,
        negatives: runs.NegLabel.negatives!,
        idAccuracy: correct / idImages.length,
        methods: Object.fromEntries(METHODS.map((m) => [m, { ...oodMetrics(runs[m].idScores, runs[m].oodScores), idScores: runs[m].idScores, oodScores: runs[m].oodScores }])) as SplitResult['methods'],
      });
    }
    return results;
  } finally {
    await encoder.close();
  }
}

const pct = (x: number) => (100 * x).toFixed(2);

/** The results as a markdown table: per split and method, then the unweighted average per method. */
export function markdownTable(results: SplitResult[]): string {
  const lines = [
    '| split (ID vs. OOD) | method | AUROC ↑ | FPR95 ↓ | AUPR-In ↑ | AUPR-Out ↑ | ID acc. |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    for (const m of METHODS) {
      const x = r.methods[m];
      lines.push(`| ${r.split} (${r.idCount} / ${r.oodCount}) | ${m} | ${pct(x.auroc)} | ${pct(x.fpr95)} | ${pct(x.auprIn)} | ${pct(x.auprOut)} | ${pct(r.idAccuracy)} |`);
    }
  }
  for (const m of METHODS) {
    const mean = (f: (x: OodMetrics) => number) => pct(results.reduce((a, r) => a + f(r.methods[m]), 0) / results.length);
    const acc = pct(results.reduce((a, r) => a + r.idAccuracy, 0) / results.length);
    lines.push(`| **average** | ${m} | ${mean((x) => x.auroc)} | ${mean((x) => x.fpr95)} | ${mean((x) => x.auprIn)} | ${mean((x) => x.auprOut)} | ${acc} |`);
  }
  return lines.join('\n');
}

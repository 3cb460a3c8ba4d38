/**
 * Benchmarks 3–5 of `npm run bench`, on the real service (embedded database, worker pool, HTTP):
 * the encoder path (raw ONNX session vs the same work through GraphQL), the corpus pass (padding),
 * and re-mining from the corpus cache.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { apiUrl, startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { ClipTokenizer } from '../../src/inference/tokenizer.ts';
import { decodeToRgb, parsePreprocessorConfig, toPixelValues } from '../../src/inference/image-preprocessing.ts';
import { l2NormalizeRows } from '../../src/inference/vectors.ts';
import { applyPrompt, DEFAULT_ADJECTIVE_PROMPT, DEFAULT_ID_PROMPT } from '../../src/neglabel/prompts.ts';
import { loadWordNetCorpus } from '../../src/services/corpus-source.ts';
import type { Row } from './math.ts';

async function rawText(
  session: ort.InferenceSession,
  rows: number[][],
  padTo: number | 'longest',
  endToken: number,
): Promise<Float32Array> {
  const length = padTo === 'longest' ? Math.max(...rows.map((r) => r.length)) : padTo;
  const ids = new BigInt64Array(rows.length * length).fill(BigInt(endToken));
  const mask = new BigInt64Array(rows.length * length);
  rows.forEach((row, r) => {
    row.forEach((t, i) => {
      ids[r * length + i] = BigInt(t);
      mask[r * length + i] = 1n;
    });
  });
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [rows.length, length]),
    attention_mask: new ort.Tensor('int64', mask, [rows.length, length]),
  });
  return l2NormalizeRows(out.text_embeds.data as Float32Array, out.text_embeds.dims[1] as number);
}

type App = Awaited<ReturnType<typeof startApp>>;

async function withApp<T>(modelDir: string, fn: (app: App) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-bench-'));
  const config = loadConfig({
    PORT: '0',
    NEGLABEL_DATA_DIR: dataDir,
    NEGLABEL_MODELS_DIR: path.join(dataDir, 'none'),
    NEGLABEL_MODEL_DIR: modelDir,
    LOG_LEVEL: 'warn',
    NEGLABEL_JOB_POLL_MS: '50',
  });
  const app = await startApp(config, createLogger('warn'));
  try {
    return await fn(app);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function post(url: string, query: string, variables: object): Promise<any> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** One image as a multipart upload (the GraphQL multipart request spec), as curl -F sends it. */
async function postUpload(url: string, query: string, bytes: Buffer): Promise<any> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query, variables: { i: [{ file: null }] } }));
  form.set('map', JSON.stringify({ 0: ['variables.i.0.file'] }));
  form.set('0', new Blob([new Uint8Array(bytes)]), 'image');
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'apollo-require-preflight': 'true' },
    body: form,
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Creates a taxonomy and mines its negative labels over WordNet; resolves with its id once the job succeeded. */
async function minedTaxonomy(app: App, name: string, labels: string[], method: 'NEGLABEL' | 'CSP' = 'NEGLABEL') {
  const { createTaxonomy } = await post(
    apiUrl(app),
    'mutation($l: [String!]!, $n: String!) { createTaxonomy(input: { name: $n, labels: $l }) { id } }',
    { l: labels, n: name },
  );
  const { startMining } = await post(
    apiUrl(app),
    'mutation($t: ID!, $m: MiningMethod) { startMining(input: { taxonomyId: $t, method: $m }) { id } }',
    { t: createTaxonomy.id, m: method },
  );
  for (;;) {
    const { miningJob } = await post(apiUrl(app), 'query($id: ID!) { miningJob(id: $id) { status error } }', {
      id: startMining.id,
    });
    if (miningJob.status === 'SUCCEEDED') return createTaxonomy.id as string;
    if (miningJob.status !== 'QUEUED' && miningJob.status !== 'RUNNING') throw new Error(miningJob.error);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Images/s of the raw vision session (2 threads) at batch sizes vs HTTP embedImages and
 * scoreImages (embedded and scored against a mined taxonomy's ~10k labels, recorded in the
 * history) at equal concurrency, the images sent as base64 in JSON and as multipart uploads.
 */
export async function encoderPathBenchmark(
  modelDir: string,
  images: Buffer[],
  labels: string[],
  total = 256,
): Promise<Row[]> {
  const preprocessor = parsePreprocessorConfig(readFileSync(path.join(modelDir, 'preprocessor_config.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(modelDir, 'vision_model.onnx'), { intraOpNumThreads: 2 });
  const pixels = await Promise.all(images.map(async (b) => toPixelValues(await decodeToRgb(b, 1e8), preprocessor)));
  const size = pixels[0].length;
  const side = preprocessor.cropHeight;
  const rows: Row[] = [];
  await withApp(modelDir, async (app) => {
    const query = 'query($i: [ImageInput!]!) { embedImages(images: $i) }';
    // a distinct file each time (bytes appended after the image's end), so no cache answers
    const file = (i: number) => Buffer.concat([images[i % images.length], Buffer.from(String(i))]);
    const one = async (i: number) => post(apiUrl(app), query, { i: [{ data: file(i).toString('base64') }] });
    const oneUpload = async (i: number) => postUpload(apiUrl(app), query, file(i));
    const taxonomyId = await minedTaxonomy(app, 'encoder path', labels);
    const scoreQuery = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }';
    const oneScored = async (i: number) =>
      post(apiUrl(app), scoreQuery, { i: { taxonomyId, images: [{ data: file(i).toString('base64') }] } });
    /** images/s of `total` single-image requests, `width` at a time */
    const concurrent = async (width: number, send: (i: number) => Promise<unknown>, offset: number) => {
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: width }, async () => {
          while (next < total) await send(offset + next++);
        }),
      );
      return total / ((performance.now() - started) / 1000);
    };
    await one(1e9); // warm-up
    await oneScored(1e9 + 1);
    for (const width of [1, 8, 32]) {
      // raw: preprocessing included, as the service does it per image
      const started = performance.now();
      for (let done = 0; done < total; done += width) {
        const batch = new Float32Array(width * size);
        for (let j = 0; j < width; j++)
          batch.set(toPixelValues(await decodeToRgb(images[(done + j) % images.length], 1e8), preprocessor), j * size);
        await session.run({ pixel_values: new ort.Tensor('float32', batch, [width, 3, side, side]) });
      }
      const raw = total / ((performance.now() - started) / 1000);
      const before = app.services.encoder.stats();
      const http = await concurrent(width, one, width * 100_000);
      const after = app.services.encoder.stats();
      const upload = await concurrent(width, oneUpload, width * 100_000 + 50_000);
      const scored = await concurrent(width, oneScored, width * 100_000 + 70_000);
      rows.push({
        'batch = concurrency': width,
        'raw session images/s': raw.toFixed(0),
        'GraphQL embedImages images/s (base64)': http.toFixed(0),
        'GraphQL / raw': (http / raw).toFixed(2),
        'GraphQL upload images/s': upload.toFixed(0),
        'upload / base64': (upload / http).toFixed(2),
        'GraphQL scoreImages images/s': scored.toFixed(0),
        'scoreImages / raw': (scored / raw).toFixed(2),
        'mean batch reaching the session': (
          (after.imageItems - before.imageItems) /
          Math.max(1, after.imageRuns - before.imageRuns)
        ).toFixed(1),
      });
    }
  });
  await session.release();
  return rows;
}

/** The WordNet corpus through the raw text session padded to 77, bucketed by length, and the service. */
export async function corpusPassBenchmark(modelDir: string, limit?: number): Promise<Row[]> {
  const corpus = loadWordNetCorpus().slice(0, limit);
  const prompts = corpus.map((w) =>
    applyPrompt(w.pos === 'noun' ? DEFAULT_ID_PROMPT : DEFAULT_ADJECTIVE_PROMPT, w.text),
  );
  const tokenizer = ClipTokenizer.fromTokenizerJson(readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'));
  const tokens = prompts.map((p) => tokenizer.encode(p));
  const session = await ort.InferenceSession.create(path.join(modelDir, 'text_model.onnx'), { intraOpNumThreads: 2 });
  const BATCH = 64;
  const run = async (order: number[], padTo: number | 'longest') => {
    const out = new Array<Float32Array>(prompts.length);
    const started = performance.now();
    for (let i = 0; i < order.length; i += BATCH) {
      const chunk = order.slice(i, i + BATCH);
      const data = await rawText(
        session,
        chunk.map((j) => tokens[j]),
        padTo,
        tokenizer.endToken,
      );
      const dim = data.length / chunk.length;
      chunk.forEach((j, r) => {
        out[j] = data.subarray(r * dim, (r + 1) * dim);
      });
    }
    return { out, rate: prompts.length / ((performance.now() - started) / 1000) };
  };
  const natural = prompts.map((_, i) => i);
  const byLength = [...natural].sort((a, b) => tokens[a].length - tokens[b].length);
  const padded77 = await run(natural, 77);
  const bucketed = await run(byLength, 'longest');
  await session.release();
  const service = await withApp(modelDir, async (app) => {
    const started = performance.now();
    const { vectors: out } = await app.services.encoder.embedTextsBulk(
      app.services.encoder.resolveModel(null).id,
      prompts,
    );
    return { out, rate: prompts.length / ((performance.now() - started) / 1000) };
  });
  const diff = (a: Float32Array[]) =>
    Math.max(...a.map((v, i) => Math.max(...v.map((x, d) => Math.abs(x - padded77.out[i][d])))));
  return [
    {
      path: 'raw ORT, padded to 77',
      'texts/s': padded77.rate.toFixed(0),
      'vs best raw': (padded77.rate / bucketed.rate).toFixed(2),
      'max |Δ| vs padded-77': '0',
    },
    {
      path: 'raw ORT, sorted by length, padded to batch longest',
      'texts/s': bucketed.rate.toFixed(0),
      'vs best raw': '1.00',
      'max |Δ| vs padded-77': diff(bucketed.out).toExponential(1),
    },
    {
      path: 'service embedTextsBulk (worker pool)',
      'texts/s': service.rate.toFixed(0),
      'vs best raw': (service.rate / bucketed.rate).toFixed(2),
      'max |Δ| vs padded-77': diff(service.out).toExponential(1),
    },
  ];
}

/** First mining of a taxonomy vs mining a second one on the already-encoded corpus. */
export async function reminingBenchmark(modelDir: string, labels: string[]): Promise<Row[]> {
  return withApp(modelDir, async (app) => {
    const mine = async (name: string, method: 'NEGLABEL' | 'CSP') => {
      const textsBefore = app.services.encoder.stats().textItems;
      const started = performance.now();
      await minedTaxonomy(app, name, labels, method);
      return {
        seconds: (performance.now() - started) / 1000,
        texts: app.services.encoder.stats().textItems - textsBefore,
      };
    };
    const runs = [
      { mining: 'NegLabel, first taxonomy (encodes the corpus)', ...(await mine('first', 'NEGLABEL')) },
      { mining: 'NegLabel, second taxonomy (corpus cached)', ...(await mine('second', 'NEGLABEL')) },
      { mining: 'CSP, first taxonomy (encodes its ~6x prompts)', ...(await mine('csp-first', 'CSP')) },
      { mining: 'CSP, second taxonomy (prompts cached)', ...(await mine('csp-second', 'CSP')) },
    ];
    return runs.map((run) => ({
      mining: run.mining,
      seconds: run.seconds.toFixed(1),
      'texts encoded': run.texts,
      'time vs NegLabel first': (run.seconds / runs[0].seconds).toFixed(2),
    }));
  });
}

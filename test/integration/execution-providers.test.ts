/**
 * GPU execution providers cannot run on this machine (onnxruntime-node's CUDA/TensorRT libraries
 * are not installed), which is exactly what these tests check: asking for them without allowing
 * the CPU leaves the model unloaded with the install step; allowing the CPU loads it there, saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxEncoder } from '../../src/inference/onnx-encoder.ts';
import { loadConfig } from '../../src/config.ts';
import { FIXTURE_MODEL_DIR } from '../helpers/fixtures.ts';

const start = (executionProviders: Array<'cpu' | 'cuda' | 'tensorrt'>) =>
  OnnxEncoder.start({
    modelsDir: '/nonexistent',
    defaultModelDir: FIXTURE_MODEL_DIR,
    workers: 1,
    settings: { executionProviders, preprocessing: 'exact', threadNice: 0 },
    maxBatchSize: 8,
    batchWindowMs: 1,
    maxImagePixels: 1e7,
    cacheEntries: 0,
  });

test(
  'cuda without the CPU allowed: the model does not load, and its status says how to install the ' + 'GPU binaries',
  async () => {
    const encoder = await start(['cuda']);
    try {
      const [model] = encoder.models();
      assert.equal(model.loaded, false);
      assert.match(model.error ?? '', /cuda: .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
      assert.throws(
        () => encoder.resolveModel(null),
        (error: Error & { code?: string }) => error.code === 'MODEL_NOT_LOADED',
      );
    } finally {
      await encoder.close();
    }
  },
);

test('tensorrt,cuda,cpu: the model runs on the CPU and reports both providers that did not load', async () => {
  const encoder = await start(['tensorrt', 'cuda', 'cpu']);
  try {
    const [model] = encoder.models();
    assert.equal(model.loaded, true, model.error ?? '');
    assert.equal(model.executionProvider, 'cpu');
    assert.match(model.providerFallback ?? '', /tensorrt: .*; cuda: /);
    const [embedding] = (await encoder.embedTexts(model.id, ['a photo of a cat'])).vectors;
    assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-5, 'and it encodes');
  } finally {
    await encoder.close();
  }
});

test('NEGLABEL_EXECUTION_PROVIDERS accepts an ordered list of known providers and refuses anything else', () => {
  assert.deepEqual(loadConfig({}).executionProviders, ['cpu']);
  assert.deepEqual(loadConfig({ NEGLABEL_EXECUTION_PROVIDERS: 'TensorRT, cuda,cpu' }).executionProviders, [
    'tensorrt',
    'cuda',
    'cpu',
  ]);
  for (const bad of ['gpu', 'cuda,cuda', ' , '])
    assert.throws(
      () => loadConfig({ NEGLABEL_EXECUTION_PROVIDERS: bad }),
      /NEGLABEL_EXECUTION_PROVIDERS=.* is invalid/,
    );
});

/** The lifecycle stops parts newest first, keeps stopping past a failure, and stops each only once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle } from '../../../src/lib/lifecycle.ts';

test('parts stop in reverse order of starting, each once', async () => {
  const stopped: string[] = [];
  const lifecycle = new Lifecycle();
  for (const name of ['database', 'encoders', 'http']) lifecycle.started(name, async () => stopped.push(name));
  await lifecycle.stopAll();
  await lifecycle.stopAll();
  assert.deepEqual(stopped, ['http', 'encoders', 'database']);
});

test('a part that fails to stop does not keep the older ones running; its error is thrown at the end', async () => {
  const stopped: string[] = [];
  const heard: string[] = [];
  const lifecycle = new Lifecycle((name) => heard.push(name));
  lifecycle.started('database', () => stopped.push('database'));
  lifecycle.started('runner', () => {
    throw new Error('runner would not stop');
  });
  lifecycle.started('http', () => stopped.push('http'));
  await assert.rejects(lifecycle.stopAll(), /runner would not stop/);
  assert.deepEqual(stopped, ['http', 'database']);
  assert.deepEqual(heard, ['http', 'runner', 'database']);
});

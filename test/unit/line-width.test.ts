/** Lines stay within 120 characters (the formatter's width; it cannot break long strings, so this test does). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

function* typescriptFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory() && !['generated', 'fixtures', '.cache', 'node_modules'].includes(entry.name)) {
      yield* typescriptFiles(file);
    } else if (entry.isFile() && entry.name.endsWith('.ts')) yield file;
  }
}

test('no line of src, test or tools is over 120 characters', () => {
  const long = ['src', 'test', 'tools'].flatMap((dir) =>
    [...typescriptFiles(dir)].flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.length > 120 ? [`${file}:${i + 1} (${line.length})`] : [])),
    ),
  );
  assert.deepEqual(long, []);
});

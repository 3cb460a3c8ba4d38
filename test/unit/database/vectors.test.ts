import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVector, toVectorLiteral } from '../../../src/repositories/vectors.ts';

test('pgvector text reads back to the same float32 values, exponent notation included', () => {
  const values = Float32Array.from([0.1, -2.5e-7, 1e-45, 3.4028234663852886e38, 0.333333343267]);
  assert.deepEqual(parseVector(toVectorLiteral(values)), values);
  // as pgvector prints them: shortest round-trip digits, exponents where short
  assert.deepEqual(parseVector('[1e-05,-0.5,2.5E+3,7]'), Float32Array.from([1e-5, -0.5, 2500, 7]));
});

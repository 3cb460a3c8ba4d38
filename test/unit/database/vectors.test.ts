import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vectorArrayBytes, vectorBytes, vectorFromBytes } from '../../../src/repositories/vectors.ts';

test('a vector is written as pgvector binary: int16 dims, int16 zero, IEEE float4 big-endian', () => {
  // 1.0 = 3f800000, -2.0 = c0000000, 0.1f = 3dcccccd (IEEE 754 single precision)
  assert.equal(vectorBytes(Float32Array.from([1, -2, 0.1])).toString('hex'), '00030000' + '3f800000c00000003dcccccd');
  // a view into a larger buffer is read from its own offset
  const shared = Float32Array.from([9, 1, -2, 9]).subarray(1, 3);
  assert.equal(vectorBytes(shared).toString('hex'), '000200003f800000c0000000');
});

test('binary vectors read back to the same float32 values, extremes included', () => {
  const values = Float32Array.from([0.1, -2.5e-7, 1e-45, 3.4028234663852886e38, -0, 0.333333343267]);
  assert.deepEqual(vectorFromBytes(vectorBytes(values)), values);
  assert.throws(() => vectorFromBytes(Buffer.from('000300003f800000', 'hex')), /not a pgvector value/);
});

test('a vector[] parameter is a one-dimensional binary array of the given element type', () => {
  const bytes = vectorArrayBytes([Float32Array.from([1]), Float32Array.from([-2, 1])], 16_385);
  assert.equal(
    bytes.toString('hex'),
    // ndim 1, no nulls, element oid 16385, 2 elements from index 1
    '00000001' +
      '00000000' +
      '00004001' +
      '00000002' +
      '00000001' +
      // each element: its byte length, then its pgvector bytes
      '00000008' +
      '000100003f800000' +
      '0000000c' +
      '00020000c00000003f800000',
  );
});

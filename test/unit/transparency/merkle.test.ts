/**
 * The tree against Certificate Transparency's published vectors (RFC 6962 test data, as the
 * certificate-transparency and Trillian code bases test themselves), then every proof of trees of
 * many shapes built from a node store as the log keeps it, and mangled proofs refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  consistencyRanges,
  EMPTY_ROOT,
  Frontier,
  inclusionRanges,
  isStoredLevel,
  leafHash,
  type NodeReader,
  rangeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/transparency/merkle.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

const CT_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const CT_LEAVES = CT_INPUTS.map((s) => leafHash(unhex(s)));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];
const CT_CONSISTENCY = [
  {
    first: 2,
    second: 8,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** A node store as the log keeps one: the leaves and the stored levels the frontier reports. */
function storeOf(leaves: Buffer[]): { read: NodeReader; reads: number[] } {
  const levels = new Map<number, Buffer[]>([[0, leaves]]);
  const frontier = Frontier.empty();
  for (const leaf of leaves)
    frontier.append(leaf, (level, index, hash) => {
      if (!isStoredLevel(level)) return;
      if (!levels.has(level)) levels.set(level, []);
      levels.get(level)![index] = hash;
    });
  const reads: number[] = [];
  return {
    reads,
    read: async (level, index, count) => {
      reads.push(count);
      return (levels.get(level) ?? []).slice(index, index + count);
    },
  };
}

const proofOf = (read: NodeReader, ranges: ReturnType<typeof inclusionRanges>) =>
  Promise.all(ranges.map(([a, b]) => rangeHash(read, a, b)));

test('tree heads match RFC 6962 for the empty tree and sizes 1 to 8', () => {
  assert.equal(hex(EMPTY_ROOT), createHash('sha256').digest('hex'));
  assert.equal(hex(rootOf([])), hex(EMPTY_ROOT));
  for (let n = 1; n <= 8; n++) assert.equal(hex(rootOf(CT_LEAVES.slice(0, n))), CT_ROOTS[n - 1], `size ${n}`);
  const frontier = Frontier.empty();
  CT_LEAVES.forEach((leaf, i) => {
    frontier.append(leaf);
    assert.equal(hex(frontier.root()), CT_ROOTS[i], `frontier at size ${i + 1}`);
  });
});

test('inclusion and consistency proofs match the published ones and verify', async () => {
  const { read } = storeOf(CT_LEAVES);
  for (const v of CT_INCLUSION) {
    const proof = await proofOf(read, inclusionRanges(v.index, v.size));
    assert.deepEqual(proof.map(hex), v.proof);
    assert.ok(verifyInclusion(CT_LEAVES[v.index], v.index, v.size, proof, unhex(CT_ROOTS[v.size - 1])));
  }
  for (const v of CT_CONSISTENCY) {
    const proof = await proofOf(read, consistencyRanges(v.first, v.second));
    assert.deepEqual(proof.map(hex), v.proof);
    assert.ok(verifyConsistency(v.first, v.second, unhex(CT_ROOTS[v.first - 1]), unhex(CT_ROOTS[v.second - 1]), proof));
  }
});

test('every proof of trees of every size to 70 verifies, and a flipped, cut or foreign proof does not', async () => {
  const leaves = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const { read } = storeOf(leaves);
  const roots = Array.from({ length: 71 }, (_, n) => rootOf(leaves, 0, n));
  for (let n = 1; n <= 70; n++) {
    for (let i = 0; i < n; i++) {
      const proof = await proofOf(read, inclusionRanges(i, n));
      assert.ok(verifyInclusion(leaves[i], i, n, proof, roots[n]), `inclusion ${i}/${n}`);
      assert.equal(verifyInclusion(leaves[(i + 1) % 70], i, n, proof, roots[n]), false, `another leaf at ${i}/${n}`);
      if (proof.length === 0) continue;
      const flipped = proof.map((p) => Buffer.from(p));
      flipped[0][5] ^= 1;
      assert.equal(verifyInclusion(leaves[i], i, n, flipped, roots[n]), false);
      assert.equal(verifyInclusion(leaves[i], i, n, proof.slice(1), roots[n]), false);
    }
    for (let m = 0; m <= n; m++) {
      const proof = await proofOf(read, consistencyRanges(m, n));
      assert.ok(verifyConsistency(m, n, roots[m], roots[n], proof), `consistency ${m}->${n}`);
      if (m > 0 && m < n) {
        assert.equal(verifyConsistency(m, n, roots[m - 1], roots[n], proof), false, `wrong old head ${m}->${n}`);
        assert.equal(verifyConsistency(m, n, roots[m], roots[n], proof.slice(0, -1)), false);
      }
    }
  }
});

test('a large tree is proved from its stored levels, reading at most 128 nodes per subtree', async () => {
  const leaves = Array.from({ length: 70_001 }, (_, i) => leafHash(Buffer.from(`record ${i}`)));
  const { read, reads } = storeOf(leaves);
  const root = rootOf(leaves);
  for (const index of [0, 255, 256, 40_000, 65_535, 70_000]) {
    const proof = await proofOf(read, inclusionRanges(index, leaves.length));
    assert.ok(verifyInclusion(leaves[index], index, leaves.length, proof, root), `leaf ${index}`);
  }
  assert.ok(Math.max(...reads) <= 128, `a subtree read ${Math.max(...reads)} nodes`);
  const proof = await proofOf(read, consistencyRanges(33_333, leaves.length));
  assert.ok(verifyConsistency(33_333, leaves.length, rootOf(leaves, 0, 33_333), root, proof));
  // a frontier stored and reloaded goes on as if never interrupted
  const frontier = Frontier.empty();
  for (const leaf of leaves.slice(0, 1000)) frontier.append(leaf);
  const reloaded = Frontier.of(frontier.hashes, frontier.size);
  for (const leaf of leaves.slice(1000, 1500)) reloaded.append(leaf);
  assert.equal(hex(reloaded.root()), hex(rootOf(leaves, 0, 1500)));
  assert.throws(() => Frontier.of(frontier.hashes, 1001), /cannot be a tree of 1001/);
});

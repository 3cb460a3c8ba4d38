/**
 * The Merkle tree of RFC 6962 / RFC 9162 (Certificate Transparency): leaf hash SHA-256(0x00 ‖ data),
 * interior node SHA-256(0x01 ‖ left ‖ right), a tree of n leaves split at the largest power of two
 * below n. Here are the tree heads, the inclusion and consistency proofs (which ranges of leaves a
 * proof is made of, so a store can fetch only those) and their verification as the RFC gives it.
 * Sizes and indexes are JavaScript numbers (exact below 2^53), so arithmetic is by division, never
 * 32-bit shifts.
 */
import { createHash } from 'node:crypto';
import { foldInclusionPath, walkPath } from './proof-path.ts';

export const HASH_BYTES = 32;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);

/** The head of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = sha256();

export function leafHash(data: Uint8Array): Buffer {
  return sha256(LEAF_PREFIX, data);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(NODE_PREFIX, left, right);
}

/** The largest power of two strictly below n (n > 1): where RFC 6962 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n > 0 && 2 ** Math.round(Math.log2(n)) === n;
const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** MTH over leaf hashes held in memory, [start, end) of them. */
export function rootOf(leaves: readonly Uint8Array[], start = 0, end = leaves.length): Buffer {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return Buffer.from(leaves[start]);
  const k = splitPoint(n);
  return nodeHash(rootOf(leaves, start, start + k), rootOf(leaves, start + k, end));
}

/** A range of leaves [start, end) whose MTH is one hash of a proof. */
export type LeafRange = readonly [start: number, end: number];

/** The ranges of the inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3.1). */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: LeafRange[] = [];
  // walk down from the whole tree, noting the sibling of the side the leaf is on (root side last)
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push([start + k, end]);
      end = start + k;
    } else {
      path.push([start, start + k]);
      start += k;
    }
  }
  return path.reverse();
}

/** The ranges of the consistency proof from the tree of `first` leaves to the one of `second` (RFC 9162 2.1.4.1). */
export function consistencyRanges(first: number, second: number): LeafRange[] {
  if (!Number.isSafeInteger(first) || first < 0 || first > second)
    throw new RangeError(`no consistency proof from ${first} to ${second} leaves`);
  if (first === 0 || first === second) return [];
  const proof: LeafRange[] = [];
  let start = 0;
  let end = second;
  let m = first;
  // SUBPROOF(m, D[start:end], b): b is whether the subtree is the old tree's own root
  let whole = true;
  for (;;) {
    const n = end - start;
    if (m === n) {
      if (!whole) proof.push([start, end]);
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      proof.push([start + k, end]);
      end = start + k;
    } else {
      proof.push([start, start + k]);
      start += k;
      m -= k;
      whole = false;
    }
  }
  return proof.reverse();
}

/**
 * Reads stored hashes: `count` consecutive nodes of `level` (0: the leaves) from `index`. Only
 * some levels are stored (`storedLevel`); the rest are computed from the stored level below.
 */
export type NodeReader = (level: number, index: number, count: number) => Promise<Buffer[]>;

/** Levels kept in storage: the leaves and every 8th level above them (a node is rebuilt from at most 128). */
export const STORED_LEVEL_STEP = 8;
export const isStoredLevel = (level: number) => level % STORED_LEVEL_STEP === 0;

/** Hashes a full row of 2^j nodes up to their one root. */
function foldPerfect(hashes: Buffer[]): Buffer {
  let row = hashes;
  while (row.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i], row[i + 1]));
    row = next;
  }
  return row[0];
}

/** MTH of the leaves [start, end) from a store of nodes (the tree must hold at least `end` leaves). */
export async function rangeHash(read: NodeReader, start: number, end: number): Promise<Buffer> {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && start % n === 0) {
    const level = Math.round(Math.log2(n));
    const base = level - (level % STORED_LEVEL_STEP);
    const width = 2 ** (level - base);
    const hashes = await read(base, (start / n) * width, width);
    if (hashes.length !== width) throw new Error(`the log store lacks nodes of level ${base} under [${start}, ${end})`);
    return foldPerfect(hashes);
  }
  const k = splitPoint(n);
  const [left, right] = await Promise.all([rangeHash(read, start, start + k), rangeHash(read, start + k, end)]);
  return nodeHash(left, right);
}

/**
 * The tree's right edge: the roots of its perfect subtrees, largest first (one per bit of the
 * size). Appending a leaf merges equal subtrees; their roots are reported so a store can keep them.
 */
export class Frontier {
  private constructor(
    private readonly roots: Buffer[],
    private treeSize: number,
  ) {}

  static empty(): Frontier {
    return new Frontier([], 0);
  }

  /** A frontier as `hashes` stores it, checked against the tree size it claims. */
  static of(hashes: readonly Uint8Array[], size: number): Frontier {
    let bits = 0;
    for (let s = size; s > 0; s = half(s)) bits += s % 2;
    if (bits !== hashes.length) throw new Error(`a frontier of ${hashes.length} roots cannot be a tree of ${size}`);
    return new Frontier(
      hashes.map((h) => Buffer.from(h)),
      size,
    );
  }

  get size(): number {
    return this.treeSize;
  }

  get hashes(): readonly Buffer[] {
    return this.roots;
  }

  /** Appends a leaf hash; `onNode(level, index, hash)` hears every interior node it completes. */
  append(leaf: Buffer, onNode?: (level: number, index: number, hash: Buffer) => void): void {
    let hash = leaf;
    let level = 0;
    let index = this.treeSize;
    // each trailing 1 bit of the old size is a subtree of the new leaf's height to merge with
    for (let s = this.treeSize; odd(s); s = half(s)) {
      hash = nodeHash(this.roots.pop()!, hash);
      level++;
      index = half(index);
      onNode?.(level, index, hash);
    }
    this.roots.push(hash);
    this.treeSize++;
  }

  root(): Buffer {
    if (this.roots.length === 0) return EMPTY_ROOT;
    let root = this.roots[this.roots.length - 1];
    for (let i = this.roots.length - 2; i >= 0; i--) root = nodeHash(this.roots[i], root);
    return root;
  }
}

const sameHash = (a: Uint8Array, b: Uint8Array) => a.length === HASH_BYTES && Buffer.from(a).equals(b);

/** Whether `proof` shows leaf `index` with hash `leaf` in the tree of `size` with head `root` (RFC 9162 2.1.3.2). */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (leaf.length !== HASH_BYTES || proof.some((p) => p.length !== HASH_BYTES)) return false;
  const top = foldInclusionPath<Uint8Array>(leaf, index, size, proof, nodeHash);
  return top !== null && sameHash(root, top);
}

/** Whether `proof` shows the tree of `second` leaves (head `root2`) extends the one of `first` (RFC 9162 2.1.4.2). */
export function verifyConsistency(
  first: number,
  second: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(first) || first < 0 || first > second) return false;
  if (first === second) return proof.length === 0 && sameHash(root1, root2);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== HASH_BYTES)) return false;
  const path = isPowerOfTwo(first) ? [root1, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  const fits = walkPath(
    fn,
    sn,
    path.slice(1),
    (c) => {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    },
    (c) => {
      sr = nodeHash(sr, c);
    },
  );
  return fits && sameHash(root1, fr) && sameHash(root2, sr);
}

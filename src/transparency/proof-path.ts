/**
 * The walk of RFC 9162's proof verification (2.1.3.2, 2.1.4.2), over any hash: the service and the
 * verifier fold with node:crypto, the console with WebCrypto (whose digests are promises), so the
 * one algorithm serves both. No imports: it runs in the browser as it is.
 */

const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/**
 * RFC 9162's walk up a proof path from node `fn` of a level whose last node is `sn`: `left(p)` for
 * a sibling on the left, `right(p)` for one on the right. False when the path does not fit the
 * tree (too long or too short for the position).
 */
export function walkPath<T>(
  fn: number,
  sn: number,
  path: readonly T[],
  left: (p: T) => void,
  right: (p: T) => void,
): boolean {
  for (const p of path) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      left(p);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      right(p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0;
}

/**
 * The root an inclusion proof leads to from leaf `index` of a tree of `size` leaves, combining
 * (left, right) with `node`; null when the proof has the wrong length for that position.
 */
export function foldInclusionPath<T>(
  leaf: T,
  index: number,
  size: number,
  proof: readonly T[],
  node: (left: T, right: T) => T,
): T | null {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) return null;
  let r = leaf;
  const fits = walkPath(
    index,
    size - 1,
    proof,
    (p) => {
      r = node(p, r);
    },
    (p) => {
      r = node(r, p);
    },
  );
  return fits ? r : null;
}

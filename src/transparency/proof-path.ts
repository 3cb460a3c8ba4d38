/**
 * The walk of RFC 9162's inclusion-proof verification (2.1.3.2), over any hash: the service and the
 * verifier fold with node:crypto, the console with WebCrypto (whose digests are promises), so the
 * one algorithm serves both. No imports: it runs in the browser as it is.
 */

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
  const odd = (n: number) => n % 2 === 1;
  const half = (n: number) => Math.floor(n / 2);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = node(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = node(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

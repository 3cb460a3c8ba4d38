/**
 * CLIP byte-pair-encoding tokenizer, read from a Hugging Face `tokenizer.json`.
 *
 * Reproduces the original OpenAI CLIP tokenizer (the one the reference ids come from):
 * NFC, HTML entities unescaped twice, whitespace collapsed, lower-cased, split with CLIP's
 * regex, byte-level BPE with a `</w>` end-of-word marker, then `<|startoftext|> … <|endoftext|>`
 * truncated to the context length with the end token kept last.
 *
 * Hostile input stays cheap: BPE runs in O(n log n) per word (a heap of candidate merges over a
 * linked list of symbols, not a rescan per merge), words longer than MAX_WORD_CHARS are encoded in
 * chunks of that length (only the last carries `</w>`: a merge across a chunk edge is lost, which
 * no real word reaches), and encoding stops once the context is full.
 */
import { decodeHtmlEntities } from './html-entities.ts';

/** Longest run of characters encoded as one BPE word. */
export const MAX_WORD_CHARS = 256;

/** A binary min-heap of candidate merges ordered by (rank, left position): leftmost lowest rank first. */
class MergeHeap {
  private readonly items: Array<{ rank: number; left: number; pair: string }> = [];

  get size(): number {
    return this.items.length;
  }

  private less(a: number, b: number): boolean {
    const x = this.items[a];
    const y = this.items[b];
    return x.rank < y.rank || (x.rank === y.rank && x.left < y.left);
  }

  push(item: { rank: number; left: number; pair: string }): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): { rank: number; left: number; pair: string } {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < items.length && this.less(l, smallest)) smallest = l;
        if (r < items.length && this.less(r, smallest)) smallest = r;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}

export interface ClipTokenizerFiles {
  vocab: Record<string, number>;
  /** merges as "a b" strings (older tokenizer.json) or [a, b] pairs (newer). */
  merges: Array<string | [string, string]>;
}

// The pattern CLIP splits words with (the contractions first, then letters, single digits, symbols).
const WORD_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's reversible map from bytes to printable unicode characters. */
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return table;
}

export class ClipTokenizer {
  readonly startToken: number;
  readonly endToken: number;
  private readonly vocab: Map<string, number>;
  private readonly mergeRanks: Map<string, number>;
  private readonly byteTable = bytesToUnicode();
  private readonly encoder = new TextEncoder();
  private readonly wordCache = new Map<string, number[]>();

  constructor(
    files: ClipTokenizerFiles,
    readonly contextLength = 77,
  ) {
    this.vocab = new Map(Object.entries(files.vocab));
    this.mergeRanks = new Map();
    files.merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
      this.mergeRanks.set(`${a} ${b}`, rank);
    });
    this.startToken = this.requireToken('<|startoftext|>');
    this.endToken = this.requireToken('<|endoftext|>');
  }

  /** Builds a tokenizer from the JSON text of a Hugging Face `tokenizer.json`. */
  static fromTokenizerJson(json: string, contextLength = 77): ClipTokenizer {
    const parsed = JSON.parse(json) as {
      model?: { type?: string; vocab?: Record<string, number>; merges?: ClipTokenizerFiles['merges'] };
    };
    const model = parsed.model;
    if (model?.type !== 'BPE' || !model.vocab || !model.merges) {
      throw new Error('tokenizer.json is not a BPE tokenizer with a vocabulary and merges');
    }
    return new ClipTokenizer({ vocab: model.vocab, merges: model.merges }, contextLength);
  }

  /** Normalizes text the way CLIP's `basic_clean` + `whitespace_clean` do. */
  static normalize(text: string): string {
    const unescaped = decodeHtmlEntities(decodeHtmlEntities(text.normalize('NFC')));
    return unescaped.replace(/\s+/gu, ' ').trim().toLowerCase();
  }

  /** Token ids including start and end tokens, at most `contextLength` of them. */
  encode(text: string): number[] {
    const ids = [this.startToken];
    for (const match of ClipTokenizer.normalize(text).matchAll(WORD_PATTERN)) {
      for (const id of this.encodeWord(match[0])) ids.push(id);
      if (ids.length >= this.contextLength) break;
    }
    if (ids.length > this.contextLength - 1) ids.length = this.contextLength - 1;
    ids.push(this.endToken);
    return ids;
  }

  private requireToken(token: string): number {
    const id = this.vocab.get(token);
    if (id === undefined) throw new Error(`tokenizer vocabulary lacks ${token}`);
    return id;
  }

  private encodeWord(word: string): number[] {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const characters = Array.from(word);
    const ids: number[] = [];
    for (let start = 0; start < characters.length; start += MAX_WORD_CHARS) {
      const end = Math.min(start + MAX_WORD_CHARS, characters.length);
      let mapped = '';
      for (const byte of this.encoder.encode(characters.slice(start, end).join(''))) mapped += this.byteTable[byte];
      for (const piece of this.bpe(mapped, end === characters.length)) ids.push(this.vocab.get(piece) ?? this.endToken);
      if (ids.length >= this.contextLength) break; // the rest could never fit in the context
    }
    // only ordinary words are worth remembering (bounded by count and, through the cap, by size)
    if (characters.length <= 64 && this.wordCache.size < 100_000) this.wordCache.set(word, ids);
    return ids;
  }

  /**
   * Lowest-rank-first merging (the last symbol carrying `</w>` when the word ends here), as CLIP's
   * loop does: it merges every occurrence of the best pair left to right, which is the order a
   * (rank, position) heap pops them in, since a pair built from a merge always ranks after it.
   */
  private bpe(word: string, endsWord: boolean): string[] {
    const symbols = Array.from(word);
    const n = symbols.length;
    if (n === 0) return [];
    if (endsWord) symbols[n - 1] += '</w>';
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const previous = Int32Array.from({ length: n }, (_, i) => i - 1);
    const heap = new MergeHeap();
    const consider = (left: number) => {
      const right = next[left];
      if (left < 0 || right < 0) return;
      const pair = `${symbols[left]} ${symbols[right]}`;
      const rank = this.mergeRanks.get(pair);
      if (rank !== undefined) heap.push({ rank, left, pair });
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    while (heap.size > 0) {
      const { left, pair } = heap.pop();
      const right = next[left];
      // stale: the left symbol was merged away or changed since this candidate was pushed
      if (right < 0 || symbols[left] === '' || `${symbols[left]} ${symbols[right]}` !== pair) continue;
      symbols[left] += symbols[right];
      symbols[right] = '';
      next[left] = next[right];
      if (next[right] >= 0) previous[next[right]] = left;
      consider(previous[left]);
      consider(left);
    }
    return symbols.filter((symbol) => symbol !== '');
  }
}

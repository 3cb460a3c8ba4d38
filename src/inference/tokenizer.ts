/**
 * CLIP byte-pair-encoding tokenizer, read from a Hugging Face `tokenizer.json`.
 *
 * Reproduces the original OpenAI CLIP tokenizer (the one the reference ids come from):
 * NFC, HTML entities unescaped twice, whitespace collapsed, lower-cased, split with CLIP's
 * regex, byte-level BPE with a `</w>` end-of-word marker, then `<|startoftext|> … <|endoftext|>`
 * truncated to the context length with the end token kept last.
 */
import { decodeHtmlEntities } from './html-entities.ts';

export interface ClipTokenizerFiles {
  vocab: Record<string, number>;
  /** merges as "a b" strings (older tokenizer.json) or [a, b] pairs (newer). */
  merges: Array<string | [string, string]>;
}

// The pattern CLIP splits words with (the contractions first, then letters, single digits, symbols).
const WORD_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

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

  constructor(files: ClipTokenizerFiles, readonly contextLength = 77) {
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
    const parsed = JSON.parse(json) as { model?: { type?: string; vocab?: Record<string, number>; merges?: ClipTokenizerFiles['merges'] } };
    const model = parsed.model;
    if (!model || model.type !== 'BPE' || !model.vocab || !model.merges) {
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
    let mapped = '';
    for (const byte of this.encoder.encode(word)) mapped += this.byteTable[byte];
    const ids = this.bpe(mapped).map((piece) => this.vocab.get(piece) ?? this.endToken);
    if (this.wordCache.size < 100_000) this.wordCache.set(word, ids);
    return ids;
  }

  /** Greedy lowest-rank merging, the last symbol carrying the end-of-word marker. */
  private bpe(word: string): string[] {
    const symbols = Array.from(word);
    if (symbols.length === 0) return [];
    symbols[symbols.length - 1] += '</w>';
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestIndex = -1;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.mergeRanks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestIndex = i;
        }
      }
      if (bestIndex < 0) break;
      const first = symbols[bestIndex];
      const second = symbols[bestIndex + 1];
      // Merge every occurrence of the winning pair, left to right, as CLIP's loop does.
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols.splice(0, symbols.length, ...merged);
    }
    return symbols;
  }
}

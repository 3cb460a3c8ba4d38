/**
 * What a leaf of the history log is: one scoring record or one audit-log entry at its position in
 * the log, serialised canonically (format 1) so that anyone holding the same fields gets the same
 * bytes: JSON with object keys sorted by code unit at every depth, no whitespace, numbers as
 * JavaScript prints them (RFC 8785's rules for the values the history holds). The fields are what
 * an auditor relies on; the repository reads them (history-log-repository.ts), the export carries
 * them, and the verifier hashes them again.
 */
import { leafHash } from './merkle.ts';

export const LEAF_FORMAT = 1;

export type LeafKind = 'scoring' | 'audit';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A scoring record as its leaf holds it: who scored what, against what, and what was decided. */
export interface ScoringLeafFields {
  id: string;
  createdAt: string;
  caller: string;
  taxonomyId: string;
  taxonomyVersionId: string;
  taxonomyVersion: number;
  negativeSetId: string;
  modelId: string;
  imageHash: string;
  score: number;
  logitScore: number;
  adaptiveScore: number | null;
  memorySnapshotId: string | null;
  memorySize: number | null;
  threshold: number;
  thresholdSpace: string;
  requestedThreshold: number | null;
  requestedThresholdSpace: string | null;
  requestedIsOod: boolean | null;
  isOod: boolean;
  predictedLabel: string;
  topLabels: JsonValue;
  topNegatives: JsonValue;
}

/** An audit-log entry as its leaf holds it. */
export interface AuditLeafFields {
  id: string;
  createdAt: string;
  actor: string;
  action: string;
  target: string | null;
  taxonomyId: string | null;
  details: JsonValue;
}

export interface HistoryLeaf {
  /** the leaf's index in the log, from 0 */
  position: number;
  kind: LeafKind;
  fields: ScoringLeafFields | AuditLeafFields;
}

/** The canonical JSON text of a value (sorted keys, no whitespace; finite numbers only). */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`a log leaf cannot hold the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

/** The bytes a leaf hashes: its format, position, kind and fields, canonically. */
export function leafContent(leaf: HistoryLeaf): Buffer {
  return Buffer.from(
    canonicalJson({
      format: LEAF_FORMAT,
      position: leaf.position,
      kind: leaf.kind,
      fields: leaf.fields as unknown as JsonValue,
    }),
    'utf8',
  );
}

/** RFC 6962 leaf hash of a history leaf. */
export function historyLeafHash(leaf: HistoryLeaf): Buffer {
  return leafHash(leafContent(leaf));
}

/** How a report names a leaf: `scoring record 17` or `audit entry 4`. */
export function leafName(kind: LeafKind, id: string): string {
  return `${kind === 'scoring' ? 'scoring record' : 'audit entry'} ${id}`;
}

/**
 * The history log's export format (JSON Lines) and its offline verification. An export is a header,
 * the signing keys, every checkpoint (oldest first), then every leaf in log order with its fields
 * and the leaf hash the log sealed. The verifier trusts only the public keys it is given (and the
 * checkpoints the auditor kept from before), never the export's own: it hashes each leaf's fields
 * again, rebuilds the tree as the leaves stream past, and checks every checkpoint's signature,
 * chain and root, so it holds only the tree's right edge in memory whatever the history's size.
 */
import type { KeyObject } from 'node:crypto';
import { checkpointHash, type SignedCheckpoint, verifyCheckpoint } from './checkpoint.ts';
import { type AuditLeafFields, historyLeafHash, type LeafKind, leafName, type ScoringLeafFields } from './leaf.ts';
import { Frontier } from './merkle.ts';

export const EXPORT_FORMAT = 'neglabel-history-log';

export interface CheckpointJson {
  treeSize: number;
  rootHash: string;
  signedAt: string;
  previousHash: string | null;
  keyId: string;
  signature: string;
}

export type ExportLine =
  | { type: 'header'; format: typeof EXPORT_FORMAT; version: 1; exportedAt: string }
  | { type: 'key'; keyId: string; publicKey: string }
  | ({ type: 'checkpoint' } & CheckpointJson)
  | {
      type: 'leaf';
      position: number;
      kind: LeafKind;
      recordId: string;
      leafHash: string;
      /** null when the record the leaf sealed is gone from the history */
      fields: ScoringLeafFields | AuditLeafFields | null;
    };

export function checkpointToJson(c: SignedCheckpoint): CheckpointJson {
  return {
    treeSize: c.treeSize,
    rootHash: c.rootHash.toString('hex'),
    signedAt: c.signedAt.toISOString(),
    previousHash: c.previousHash?.toString('hex') ?? null,
    keyId: c.keyId,
    signature: c.signature.toString('base64'),
  };
}

export function checkpointFromJson(j: CheckpointJson): SignedCheckpoint {
  return {
    treeSize: j.treeSize,
    rootHash: Buffer.from(j.rootHash, 'hex'),
    signedAt: new Date(j.signedAt),
    previousHash: j.previousHash === null ? null : Buffer.from(j.previousHash, 'hex'),
    keyId: j.keyId,
    signature: Buffer.from(j.signature, 'base64'),
  };
}

export interface Problem {
  /** the first log position the problem concerns, or null (a checkpoint, the export's shape) */
  position: number | null;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** leaves read, and how many of them the latest verified checkpoint covers */
  leaves: number;
  sealedLeaves: number;
  checkpoints: number;
  problems: Problem[];
}

export interface VerifyOptions {
  /** the public keys the auditor trusts */
  trusted: ReadonlyMap<string, KeyObject>;
  /** checkpoints the auditor kept from earlier: the history must still contain each */
  pinned?: readonly SignedCheckpoint[];
  /** stop after this many problems (default 20) */
  maxProblems?: number;
}

const describe = (c: SignedCheckpoint) => `checkpoint of size ${c.treeSize} (signed ${c.signedAt.toISOString()})`;

/** Verifies an export read line by line; the report names the first position that does not match. */
export async function verifyHistoryLog(
  lines: AsyncIterable<ExportLine>,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const maxProblems = options.maxProblems ?? 20;
  const problems: Problem[] = [];
  const report = (position: number | null, message: string) => {
    if (problems.length < maxProblems) problems.push({ position, message });
  };
  const checkpoints: SignedCheckpoint[] = [];
  /** checkpoints by tree size still waiting for the tree to reach their size */
  const due = new Map<number, SignedCheckpoint[]>();
  const frontier = Frontier.empty();
  let previous: SignedCheckpoint | null = null;
  let sawHeader = false;
  let sawLeaf = false;
  let sealedLeaves = 0;
  const expect = (c: SignedCheckpoint) => {
    const list = due.get(c.treeSize) ?? [];
    list.push(c);
    due.set(c.treeSize, list);
  };
  for (const pinned of options.pinned ?? []) {
    if (!verifyCheckpoint(pinned, options.trusted))
      report(null, `the kept ${describe(pinned)} has no trusted signature`);
    else expect(pinned);
  }
  const checkDue = () => {
    for (const c of due.get(frontier.size) ?? []) {
      if (!frontier.root().equals(c.rootHash))
        report(
          Math.max(0, c.treeSize - 1),
          `the leaves do not have the root of the ${describe(c)}: a record sealed before it was changed, removed or ` +
            'moved',
        );
      else sealedLeaves = Math.max(sealedLeaves, c.treeSize);
    }
    due.delete(frontier.size);
  };
  checkDue();
  for await (const line of lines) {
    if (line.type === 'header') {
      if (line.format !== EXPORT_FORMAT || line.version !== 1)
        report(null, `not a neglabel history log export of version 1 (${line.format} ${line.version})`);
      sawHeader = true;
    } else if (line.type === 'checkpoint') {
      const c = checkpointFromJson(line);
      if (sawLeaf) report(null, 'a checkpoint follows the leaves: the export is out of order');
      if (!verifyCheckpoint(c, options.trusted))
        report(null, `the ${describe(c)} has no signature of a trusted key (key ${c.keyId})`);
      const link = previous ? checkpointHash(previous) : null;
      if (previous && c.treeSize < previous.treeSize)
        report(null, `the ${describe(c)} follows a larger one: the checkpoints are out of order`);
      if ((link === null) !== (c.previousHash === null) || (link && c.previousHash && !link.equals(c.previousHash)))
        report(null, `the ${describe(c)} does not name the checkpoint before it: checkpoints were removed or replaced`);
      checkpoints.push(c);
      previous = c;
      expect(c);
    } else if (line.type === 'leaf') {
      sawLeaf = true;
      if (line.position !== frontier.size) {
        report(frontier.size, `position ${frontier.size} is missing from the log (the next leaf is ${line.position})`);
        break;
      }
      const sealed = Buffer.from(line.leafHash, 'hex');
      let hash: Buffer = sealed;
      if (line.fields === null) {
        report(
          line.position,
          `position ${line.position}: ${leafName(line.kind, line.recordId)} is gone from the history`,
        );
      } else {
        hash = historyLeafHash({ position: line.position, kind: line.kind, fields: line.fields });
        if (line.fields.id !== line.recordId || !hash.equals(sealed))
          report(
            line.position,
            `position ${line.position}: ${leafName(line.kind, line.fields.id)} does not match the leaf sealed for ` +
              `${leafName(line.kind, line.recordId)} (changed, swapped or forged after sealing)`,
          );
      }
      frontier.append(hash);
      checkDue();
    }
  }
  if (!sawHeader) report(null, 'the export has no header line: is it a neglabel history log export?');
  for (const kept of options.pinned ?? [])
    if (!checkpoints.some((c) => c.treeSize === kept.treeSize && c.rootHash.equals(kept.rootHash)))
      report(
        kept.treeSize,
        `the kept ${describe(kept)} is not among the log's checkpoints: its checkpoints were rolled back or replaced`,
      );
  for (const [size, list] of due)
    for (const c of list)
      report(
        frontier.size,
        `the log has ${frontier.size} leaves, fewer than the ${describe(c)}: the history was cut or rolled back ` +
          `(size ${size} expected)`,
      );
  problems.sort((a, b) => (a.position ?? -1) - (b.position ?? -1));
  return {
    ok: problems.length === 0,
    leaves: frontier.size,
    sealedLeaves,
    checkpoints: checkpoints.length,
    problems,
  };
}

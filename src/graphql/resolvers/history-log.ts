/** Resolvers for the verifiable history: checkpoints, signing keys and proofs. */
import { checkpointNote, type SignedCheckpoint } from '../../transparency/checkpoint.ts';
import type { Resolvers } from '../../generated/graphql.ts';
import type { InclusionProof } from '../../services/history-log-service.ts';

const hex = (b: Buffer) => b.toString('hex');

export const historyLogResolvers: Resolvers = {
  Query: {
    historyCheckpoint: (_: unknown, __, ctx) => ctx.services.historyLog.latestCheckpoint(),
    historySigningKeys: (_: unknown, __, ctx) => ctx.services.historyLog.signingKeys(),
    historyConsistencyProof: (_: unknown, { fromSize, toSize }, ctx) =>
      ctx.services.historyLog.consistencyProof(fromSize, toSize),
  },
  HistoryCheckpoint: {
    rootHash: (c: SignedCheckpoint) => hex(c.rootHash),
    previousHash: (c: SignedCheckpoint) => (c.previousHash ? hex(c.previousHash) : null),
    signature: (c: SignedCheckpoint) => c.signature.toString('base64'),
    note: (c: SignedCheckpoint) => checkpointNote(c),
  },
  HistoryInclusionProof: {
    leafHash: (p: InclusionProof) => hex(p.leafHash),
    hashes: (p: InclusionProof) => p.hashes.map(hex),
  },
  HistoryConsistencyProof: {
    hashes: (p: { hashes: Buffer[] }) => p.hashes.map(hex),
  },
  ScoringRecord: {
    proof: (r: { id: string }, _, ctx) => ctx.services.historyLog.inclusionProof('scoring', r.id),
  },
  AuditLogEntry: {
    proof: (e: { id: string | bigint }, _, ctx) => ctx.services.historyLog.inclusionProof('audit', String(e.id)),
  },
};

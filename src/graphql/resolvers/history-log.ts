/** Resolvers for the verifiable history: checkpoints, signing keys and proofs. */
import { checkpointNote } from '../../transparency/checkpoint.ts';
import type { Resolvers } from '../../generated/graphql.ts';

const hex = (b: Buffer) => b.toString('hex');

export const historyLogResolvers: Resolvers = {
  Query: {
    historyCheckpoint: (_: unknown, __, ctx) => ctx.services.historyLog.latestCheckpoint(),
    historySigningKeys: (_: unknown, __, ctx) => ctx.services.historyLog.signingKeys(),
    historyConsistencyProof: (_: unknown, { fromSize, toSize }, ctx) =>
      ctx.services.historyLog.consistencyProof(fromSize, toSize),
  },
  HistoryCheckpoint: {
    rootHash: (c) => hex(c.rootHash),
    previousHash: (c) => (c.previousHash ? hex(c.previousHash) : null),
    signature: (c) => c.signature.toString('base64'),
    note: (c) => checkpointNote(c),
  },
  HistoryInclusionProof: {
    leafHash: (p) => hex(p.leafHash),
    hashes: (p) => p.hashes.map(hex),
  },
  HistoryConsistencyProof: {
    hashes: (p) => p.hashes.map(hex),
  },
  ScoringRecord: {
    proof: (r, _, ctx) => ctx.services.historyLog.inclusionProof('scoring', r.id),
  },
  AuditLogEntry: {
    proof: (e, _, ctx) => ctx.services.historyLog.inclusionProof('audit', String(e.id)),
  },
};

/**
 * What the resolvers of each GraphQL object receive as their parent and must return: the shapes
 * the services hand out (rows and domain objects), not the GraphQL types. The codegen maps the
 * schema's types to these (tools/codegen/graphql-types.ts), so a resolver that returns the wrong
 * shape, or reads a field its parent does not have, fails the type check.
 */
import type { ImageFailure, ScoringRecordRow } from '../domain/scoring-record.ts';
import type { AccessService } from '../services/access-service.ts';
import type { HistoryLogService, InclusionProof } from '../services/history-log-service.ts';
import type { MiningParameters, MiningService } from '../services/mining-service.ts';
import type { ScoringService } from '../services/scoring-service.ts';
import type { TaxonomyService } from '../services/taxonomy-service.ts';

type Result<F extends (...args: never[]) => unknown> = NonNullable<Awaited<ReturnType<F>>>;

export type TaxonomyParent = Result<TaxonomyService['get']>;
export type TaxonomyVersionParent = Result<TaxonomyService['versionById']>;
export type MiningJobParent = Result<MiningService['job']>;
export type NegativeLabelSetParent = Result<MiningService['negativeSet']>;
export type NegativeLabelParent = Result<MiningService['labels']>['edges'][number]['node'];
export type MiningParametersParent = MiningParameters;
export type ApiKeyParent = Result<AccessService['listKeys']>[number];
export type AuditLogEntryParent = Result<AccessService['auditPage']>['edges'][number]['node'];
export type ScoringRecordParent = ScoringRecordRow;
export type ImageScoreParent = Result<ScoringService['score']>[number];
export type ImageScoreFailureParent = ImageFailure;
export type HistoryCheckpointParent = Result<HistoryLogService['latestCheckpoint']>;
export type HistoryInclusionProofParent = InclusionProof;
export type HistoryConsistencyProofParent = Result<HistoryLogService['consistencyProof']>;

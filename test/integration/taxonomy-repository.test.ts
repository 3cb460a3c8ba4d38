import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { TaxonomyRepository, type TaxonomyVersionRow } from '../../src/repositories/taxonomy-repository.ts';

let app: TestApp;
let repository: TaxonomyRepository;
let taxonomyId: string;

const head = ({ labels: _labels, ...rest }: TaxonomyVersionRow) => rest;

before(async () => {
  app = await startTestApp({ NEGLABEL_ENCODER_WORKERS: '1' });
  repository = new TaxonomyRepository(app.database.prisma, app.database.pool);
  // version 1 mined (an active negative set), version 2 not; every setting away from its default
  taxonomyId = await createMinedTaxonomy(app, 'heads');
  await repository.createVersion(taxonomyId, {
    labels: ['cat', 'dog'],
    promptTemplate: 'a photo of a {}.',
    promptTemplates: ['a photo of a {}.', 'a drawing of a {}.'],
    modelId: 'another-model',
    logitScale: 50,
    createdBy: 'tester',
  });
  await repository.updateSettings(taxonomyId, {
    defaultThreshold: 0.25,
    thresholdSpace: 'LOGIT_SCORE',
    adaptiveThreshold: 0.375,
    memoryFrozenSnapshot: 12_345_678_901_234n,
    storeThumbnails: true,
    thumbnailRetentionDays: 7,
  });
});
after(() => app.close());

test('the one-statement read of a taxonomy and a version head equals what Prisma reads, labels left out', async () => {
  const taxonomy = await app.database.prisma.taxonomy.findUnique({ where: { id: taxonomyId } });
  const [first, second] = await repository.versions(taxonomyId);
  assert.ok(first.activeNegativeSetId, 'version 1 has its mined set');
  assert.equal(second.activeNegativeSetId, null);

  assert.deepEqual(await repository.withVersionHead(taxonomyId, null), { taxonomy, version: head(second) });
  assert.deepEqual(await repository.withVersionHead(taxonomyId, 1), { taxonomy, version: head(first) });
  assert.deepEqual(await repository.withVersionHead(taxonomyId, 3), { taxonomy, version: null });
  assert.equal(await repository.withVersionHead(randomUUID(), null), null);
});

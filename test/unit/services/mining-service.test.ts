/**
 * The mining service's decisions, over in-memory fakes of its repositories: when a request reuses
 * a mined set, joins a running job or queues a new one, and what it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MiningJobRepository } from '../../../src/repositories/mining-job-repository.ts';
import type { NegativeSetRepository } from '../../../src/repositories/negative-set-repository.ts';
import { MiningService } from '../../../src/services/mining-service.ts';
import type { TaxonomyService } from '../../../src/services/taxonomy-service.ts';

interface FakeJob {
  id: string;
  taxonomyVersionId: string;
  parametersKey: string;
  parameters: Record<string, unknown>;
  status: string;
  negativeSetId?: string;
}

/** One taxonomy version, and repositories that keep jobs and sets in arrays. */
function world(
  version = { id: 'v1', modelId: 'm', promptTemplate: 'a photo of a {}.', promptTemplates: [] as string[] },
) {
  const jobs: FakeJob[] = [];
  const sets: Array<{ id: string; versionId: string; parametersKey: string }> = [];
  const activated: string[] = [];
  let queued = 0;
  const taxonomies = { version: async () => version } as unknown as TaxonomyService;
  const jobRepository = {
    create: async (data: Omit<FakeJob, 'id' | 'status'> & { status?: string }) => {
      const job = { id: `job-${jobs.length + 1}`, status: 'QUEUED', ...data };
      jobs.push(job);
      return job;
    },
    findActive: async (versionId: string, key: string) =>
      jobs.find(
        (j) => j.taxonomyVersionId === versionId && j.parametersKey === key && ['QUEUED', 'RUNNING'].includes(j.status),
      ) ?? null,
  } as unknown as MiningJobRepository;
  const setRepository = {
    findReusable: async (versionId: string, key: string) =>
      sets.find((s) => s.versionId === versionId && s.parametersKey === key) ?? null,
    activate: async (_versionId: string, setId: string) => {
      activated.push(setId);
    },
  } as unknown as NegativeSetRepository;
  const service = new MiningService(taxonomies, jobRepository, setRepository, () => queued++);
  return { service, jobs, sets, activated, queued: () => queued };
}

test('a new request queues one job and wakes the workers; the same request again joins it', async () => {
  const { service, jobs, queued } = world();
  const first = await service.start({ taxonomyId: 't' }, 'alice');
  assert.equal(first.status, 'QUEUED');
  assert.equal(queued(), 1);
  const again = await service.start({ taxonomyId: 't' }, 'bob');
  assert.equal(again.id, first.id, 'joined, not duplicated');
  assert.equal(jobs.length, 1);
  assert.equal(queued(), 1);
  const other = await service.start({ taxonomyId: 't', groups: 10 }, 'bob');
  assert.notEqual(other.id, first.id, 'other parameters are other work');
  assert.equal(queued(), 2);
});

test(
  'parameters already mined for the version reuse the set: activated, recorded as a finished ' + 'job, nothing queued',
  async () => {
    const { service, jobs, sets, activated, queued } = world();
    const firstJob = await service.start({ taxonomyId: 't' }, 'alice');
    jobs[0].status = 'SUCCEEDED';
    sets.push({ id: 'set-1', versionId: 'v1', parametersKey: firstJob.parametersKey });
    const reused = await service.start({ taxonomyId: 't' }, 'alice');
    assert.equal(reused.status, 'SUCCEEDED');
    assert.equal(reused.negativeSetId, 'set-1');
    assert.deepEqual(activated, ['set-1']);
    assert.equal(queued(), 1, 'only the first request queued work');
    const forced = await service.start({ taxonomyId: 't', force: true }, 'alice');
    assert.equal(forced.status, 'QUEUED', 'force mines again');
  },
);

test('the default parameters keep their identity when the ensemble option exists but is off', async () => {
  const templates = ['a photo of a {}.', 'a drawing of a {}.'];
  const { service } = world({ id: 'v1', modelId: 'm', promptTemplate: templates[0], promptTemplates: templates });
  const plain = await service.start({ taxonomyId: 't' }, 'alice');
  const parametersOf = (job: { parameters: unknown }) => job.parameters as Record<string, unknown>;
  assert.equal('nounPromptTemplates' in parametersOf(plain), false);
  const off = await service.start({ taxonomyId: 't', nounPromptEnsemble: false }, 'alice');
  assert.equal(off.id, plain.id, 'false is the default, not a new parameter');
  const on = await service.start({ taxonomyId: 't', nounPromptEnsemble: true }, 'alice');
  assert.notEqual(on.parametersKey, plain.parametersKey);
  assert.deepEqual(parametersOf(on).nounPromptTemplates, templates);
});

test('invalid parameters are refused with the field named, and nothing is queued', async () => {
  const { service, jobs, queued } = world();
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ percentile: 1.5 }, 'percentile'],
    [{ selectionRatio: 0 }, 'selectionRatio'],
    [{ groups: 0 }, 'groups'],
    [{ count: 5, groups: 10 }, 'groups'],
    [{ seed: -1 }, 'seed'],
    [{ corpus: [{ text: '   ', partOfSpeech: 'NOUN' }] }, 'corpus'],
    [{ nounPromptEnsemble: true }, 'nounPromptEnsemble'],
  ];
  for (const [input, field] of cases) {
    await assert.rejects(
      service.start({ taxonomyId: 't', ...input }, 'alice'),
      (error: Error & { code?: string; details?: { field?: string } }) => {
        assert.equal(error.code, 'INVALID_PARAMETER', JSON.stringify(input));
        assert.equal(error.details?.field, field);
        return true;
      },
    );
  }
  assert.equal(jobs.length, 0);
  assert.equal(queued(), 0);
});

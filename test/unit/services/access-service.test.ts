/**
 * The access service's cache of verified keys, over an in-memory key table that counts lookups:
 * a key is looked up once per cache period, a revocation through this service ends it at once,
 * one made elsewhere (another process) within the period, and unknown keys are never cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AccessRepository } from '../../../src/repositories/access-repository.ts';
import { AccessService } from '../../../src/services/access-service.ts';

interface Row {
  id: string;
  name: string;
  role: string;
  keyHash: string;
  keyPrefix: string;
  taxonomyIds: string[];
  revokedAt: Date | null;
}

function fakeKeys() {
  const rows: Row[] = [];
  let lookups = 0;
  const createKey = async (data: Omit<Row, 'id' | 'revokedAt'>) => {
    const row = { ...data, id: `00000000-0000-4000-8000-${String(rows.length).padStart(12, '0')}`, revokedAt: null };
    rows.push(row);
    return row;
  };
  const repository = {
    createKey,
    createFirstKey: async (data: Omit<Row, 'id' | 'revokedAt'>) => (rows.length > 0 ? null : createKey(data)),
    createKeyIfAbsent: async (data: Omit<Row, 'id' | 'revokedAt'>) => {
      if (!rows.some((r) => r.keyHash === data.keyHash)) await createKey(data);
    },
    findActiveByHash: async (keyHash: string) => {
      lookups++;
      return rows.find((r) => r.keyHash === keyHash && !r.revokedAt) ?? null;
    },
    findByHash: async (keyHash: string) => rows.find((r) => r.keyHash === keyHash) ?? null,
    anyKeyEverExisted: async () => rows.length > 0,
    findKey: async (id: string) => rows.find((r) => r.id === id) ?? null,
    revokeUnlessLastAdmin: async (id: string) => {
      const row = rows.find((r) => r.id === id)!;
      row.revokedAt = new Date();
      return row;
    },
    appendAudit: async () => {},
  } as unknown as AccessRepository;
  return { repository, rows, lookups: () => lookups };
}

const ADMIN = 'admin-key-0123456789abcdef';
const SCORER = 'scorer-key-0123456789abcdef';
const bearer = (key: string) => `Bearer ${key}`;
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

async function serviceWithScorer(cacheMs: number) {
  const keys = fakeKeys();
  const access = new AccessService(keys.repository, cacheMs);
  await access.start(ADMIN);
  await keys.repository.createKey({
    name: 'svc',
    role: 'scorer',
    keyHash: sha256(SCORER),
    keyPrefix: 'scorer',
    taxonomyIds: [],
  } as never);
  return { access, keys, scorer: keys.rows[1] };
}

test('a verified key is looked up once per cache period, then again', async () => {
  const { access, keys } = await serviceWithScorer(40);
  const before = keys.lookups();
  for (let i = 0; i < 5; i++) assert.equal((await access.authenticate(bearer(SCORER))).role, 'scorer');
  assert.equal(keys.lookups() - before, 1);
  await new Promise((resolve) => setTimeout(resolve, 60));
  await access.authenticate(bearer(SCORER));
  assert.equal(keys.lookups() - before, 2, 'looked up again once the period is over');
});

test('revoking a key through this service refuses it at once, cached or not', async () => {
  const { access, scorer } = await serviceWithScorer(60_000);
  await access.authenticate(bearer(SCORER));
  const admin = await access.authenticate(bearer(ADMIN));
  await access.revokeKey(scorer.id, admin);
  await assert.rejects(access.authenticate(bearer(SCORER)), { code: 'UNAUTHENTICATED' });
});

test('a key revoked elsewhere (another process) stops working here when the period ends', async () => {
  const { access, scorer } = await serviceWithScorer(40);
  await access.authenticate(bearer(SCORER));
  scorer.revokedAt = new Date(); // another API process revoked it in the shared database
  assert.equal((await access.authenticate(bearer(SCORER))).name, 'svc', 'still trusted within the period');
  await new Promise((resolve) => setTimeout(resolve, 60));
  await assert.rejects(access.authenticate(bearer(SCORER)), { code: 'UNAUTHENTICATED' });
});

test('unknown keys are never cached, and a cache period of 0 looks every request up', async () => {
  const { access, keys } = await serviceWithScorer(60_000);
  const before = keys.lookups();
  for (let i = 0; i < 3; i++)
    await assert.rejects(access.authenticate(bearer('unknown-key-0123456789')), { code: 'UNAUTHENTICATED' });
  assert.equal(keys.lookups() - before, 3);
  const uncached = await serviceWithScorer(0);
  const start = uncached.keys.lookups();
  for (let i = 0; i < 3; i++) await uncached.access.authenticate(bearer(SCORER));
  assert.equal(uncached.keys.lookups() - start, 3);
});

/** A key row another process (same database) wrote. */
const keyMadeElsewhere = (): Row => ({
  id: 'k',
  name: 'elsewhere',
  role: 'admin',
  keyHash: 'h',
  keyPrefix: 'nl_',
  taxonomyIds: [],
  revokedAt: null,
});

test('open mode ends for this process as soon as a key exists in the shared table, made by any process', async () => {
  const { repository, rows } = fakeKeys();
  const service = new AccessService(repository, 5_000);
  await service.start(undefined);
  assert.equal(service.isOpen, true);
  assert.equal((await service.authenticate(undefined)).role, 'admin', 'open: an anonymous caller is an admin');
  rows.push(keyMadeElsewhere());
  await assert.rejects(service.authenticate(undefined), { code: 'UNAUTHENTICATED' });
  assert.equal(service.isOpen, false);
});

test('no anonymous key once a key exists elsewhere; the bootstrap key registers once', async () => {
  const { repository, rows } = fakeKeys();
  const open = new AccessService(repository);
  await open.start(undefined);
  const anonymous = await open.authenticate(undefined);
  rows.push(keyMadeElsewhere());
  await assert.rejects(
    open.createKey({ name: 'second', role: 'ADMIN' }, anonymous, async () => true),
    { code: 'UNAUTHENTICATED' },
  );
  assert.equal(rows.length, 1, 'no second key');
  const bootstrap = 'bootstrap-key-0123456789';
  await Promise.all([new AccessService(repository).start(bootstrap), new AccessService(repository).start(bootstrap)]);
  assert.equal(rows.filter((r) => r.name === 'bootstrap-admin').length, 1);
});

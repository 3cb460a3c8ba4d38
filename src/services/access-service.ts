/**
 * Who is calling and what they may do. API keys are bearer tokens with one role: `admin`
 * (taxonomies, mining, keys), `scorer` (scoring, embedding) or `auditor` (read-only). Keys are
 * stored as SHA-256 hashes and shown once, at creation.
 *
 * Open mode (every caller an anonymous admin, loopback only) is the zero-configuration state of a
 * service on which no key has ever existed. It fails closed: once any key has existed the service
 * never runs open again (revoking keys does not reopen it), the last active admin key cannot be
 * revoked, and the first key created in open mode must be an admin key, so nobody is locked out.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, DomainError, InvalidInputError, NotFoundError } from '../errors.ts';
import type { AccessRepository } from '../repositories/access-repository.ts';
import { LruCache } from '../inference/lru-cache.ts';
import { connection, decodePositionCursor, validateFirst } from './pagination.ts';
import { isUuid, validateName } from './validation.ts';

export const ROLES = ['admin', 'scorer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  /** the key's name, or `anonymous` in open mode; recorded in the history and the audit log */
  name: string;
  role: Role;
  keyId: string | null;
  /** the taxonomies the key is limited to, or null for all */
  taxonomyIds: string[] | null;
}

/** May this caller see and use this taxonomy? */
export function inScope(caller: Caller | undefined, taxonomyId: string | null | undefined): boolean {
  return !caller?.taxonomyIds || (taxonomyId != null && caller.taxonomyIds.includes(taxonomyId));
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/** Verified keys kept at most this many (least recently used dropped). */
const KEY_CACHE_ENTRIES = 10_000;

export class AccessService {
  private openMode = true;
  /**
   * Keys verified in the last `keyCacheMs`, by hash: every request authenticates, and on the
   * embedded database that lookup queued behind every other statement (a GraphQL `health` probe
   * waited for the history's writes). Revoking a key here clears the cache at once; a key revoked
   * through another process stops working here within `keyCacheMs`. Unknown keys are never cached.
   */
  private readonly verified = new LruCache<string, { caller: Caller; until: number }>(KEY_CACHE_ENTRIES);

  constructor(
    private readonly repository: AccessRepository,
    private readonly keyCacheMs = 0,
  ) {}

  /** Registers the bootstrap admin key (NEGLABEL_ADMIN_KEY) if new, and decides open mode. */
  async start(bootstrapAdminKey: string | undefined): Promise<void> {
    if (bootstrapAdminKey) {
      if (bootstrapAdminKey.length < 16) throw new Error('NEGLABEL_ADMIN_KEY must be at least 16 characters');
      const existing = await this.repository.findByHash(hash(bootstrapAdminKey));
      if (existing?.revokedAt) {
        throw new Error(
          `NEGLABEL_ADMIN_KEY was revoked on ${existing.revokedAt.toISOString()} (key id ${existing.id}): a ` +
            `revoked key never works again. Set NEGLABEL_ADMIN_KEY to a new secret (16+ characters) and start again`,
        );
      }
      if (!existing) {
        await this.repository.createKeyIfAbsent({
          name: 'bootstrap-admin',
          role: 'admin',
          keyHash: hash(bootstrapAdminKey),
          // the operator's own secret: none of its characters are kept or listed
          keyPrefix: 'NEGLABEL_ADMIN_KEY',
          createdBy: 'NEGLABEL_ADMIN_KEY',
          taxonomyIds: [],
        });
      }
    }
    await this.refreshMode();
  }

  /**
   * Open mode as the database has it: a key created through any process ends it for all. Once
   * ended it never returns, so only a process that still believes it open asks again.
   */
  private async refreshMode(): Promise<boolean> {
    if (this.openMode) this.openMode = !(await this.repository.anyKeyEverExisted());
    return this.openMode;
  }

  /** As of the last look (start-up, or the last anonymous request). */
  get isOpen(): boolean {
    return this.openMode;
  }

  /** The caller of a request from its Authorization header. */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!authorization) {
      if (await this.refreshMode()) return { name: 'anonymous', role: 'admin', keyId: null, taxonomyIds: null };
      throw new DomainError(
        'UNAUTHENTICATED',
        'This service requires an API key: send `Authorization: Bearer <key>` (an admin creates keys with ' +
          'createApiKey).',
      );
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) throw new DomainError('UNAUTHENTICATED', 'The Authorization header must be `Bearer <key>`.');
    const keyHash = hash(match[1]);
    const cached = this.verified.get(keyHash);
    if (cached && cached.until > Date.now()) return cached.caller;
    const key = await this.repository.findActiveByHash(keyHash);
    if (!key) {
      this.verified.delete(keyHash);
      throw new DomainError('UNAUTHENTICATED', 'The API key is unknown or revoked: ask an admin for a valid key.');
    }
    const caller: Caller = {
      name: key.name,
      role: key.role as Role,
      keyId: key.id,
      taxonomyIds: key.taxonomyIds.length > 0 ? key.taxonomyIds : null,
    };
    if (this.keyCacheMs > 0) this.verified.set(keyHash, { caller, until: Date.now() + this.keyCacheMs });
    return caller;
  }

  async createKey(
    input: { name: string; role: string; taxonomyIds?: string[] | null },
    actor: Caller,
    taxonomyExists: (id: string) => Promise<boolean>,
  ) {
    const name = validateName(input.name, 'name', 100, 'identifier');
    const role = input.role.toLowerCase();
    if (!(ROLES as readonly string[]).includes(role))
      throw new InvalidInputError(`role must be one of ${ROLES.join(', ')}.`, { field: 'role' });
    const first = actor.keyId === null; // an anonymous caller of open mode
    if (first && role !== 'admin') {
      throw new InvalidInputError(
        'The first API key must be an ADMIN key: creating it ends open mode, and without an admin key nobody could ' +
          'manage the service. Create an ADMIN key first, then other keys with it.',
        { field: 'role' },
        'FIRST_KEY_MUST_BE_ADMIN',
      );
    }
    const taxonomyIds = [...new Set(input.taxonomyIds ?? [])];
    if (taxonomyIds.length > 0 && role === 'admin') {
      throw new InvalidInputError(
        'An ADMIN key manages every taxonomy: limit SCORER or AUDITOR keys instead.',
        { field: 'taxonomyIds' },
        'INVALID_PARAMETER',
      );
    }
    for (const id of taxonomyIds) {
      if (!isUuid(id) || !(await taxonomyExists(id)))
        throw new NotFoundError('Taxonomy', id, 'query `taxonomies` for the ids that exist');
    }
    const key = `nl_${randomBytes(24).toString('base64url')}`;
    const data = { name, role, keyHash: hash(key), keyPrefix: key.slice(0, 6), createdBy: actor.name, taxonomyIds };
    const record = first ? await this.repository.createFirstKey(data) : await this.repository.createKey(data);
    if (!record) {
      this.openMode = false;
      throw new DomainError(
        'UNAUTHENTICATED',
        'An API key was created meanwhile (open mode has ended): send `Authorization: Bearer <key>` with an ADMIN ' +
          'key.',
      );
    }
    await this.audit(actor, 'createApiKey', record.id, { name, role, taxonomyIds });
    await this.refreshMode();
    return { key, apiKey: record };
  }

  async revokeKey(id: string, actor: Caller) {
    const key = isUuid(id) ? await this.repository.findKey(id) : null;
    if (!key) throw new NotFoundError('API key', id, 'query `apiKeys` for the ids');
    const revoked = key.revokedAt ? key : await this.repository.revokeUnlessLastAdmin(id);
    if (revoked === 'last-admin') {
      throw new ConflictError(
        'LAST_ADMIN_KEY',
        'This is the last active admin key: create another ADMIN key first, then revoke this one.',
        { id },
      );
    }
    this.verified.clear(); // a revoked key stops working in this process now
    await this.audit(actor, 'revokeApiKey', id, { name: key.name });
    await this.refreshMode();
    return revoked;
  }

  listKeys() {
    return this.repository.listKeys();
  }

  /** Appends to the audit log; `taxonomyId` is the taxonomy the entry concerns (scoped readers see only theirs). */
  audit(
    actor: Caller,
    action: string,
    target: string | null,
    details: object = {},
    taxonomyId: string | null = null,
  ): Promise<void> {
    return this.repository.appendAudit({ actor: actor.name, action, target, details, taxonomyId });
  }

  /** The log, newest first; a taxonomy-scoped reader sees only the entries about its taxonomies. */
  async auditPage(first: number, after: string | null, reader?: Caller) {
    validateFirst(first, 500);
    const cursor = decodePositionCursor(after, 'auditLog');
    const page = await this.repository.auditPage(first, cursor, reader?.taxonomyIds ?? null);
    return connection(page.rows, page.hasNextPage, (node) => node.position, cursor);
  }
}

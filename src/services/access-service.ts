/**
 * Who is calling and what they may do. API keys are bearer tokens with one role: `admin`
 * (taxonomies, mining, keys), `scorer` (scoring, embedding) or `auditor` (read-only). Keys are
 * stored as SHA-256 hashes and shown once, at creation. With no key at all the service runs open
 * (every caller is an anonymous admin), which it allows only on a loopback address.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DomainError, InvalidInputError, NotFoundError } from '../errors.ts';
import type { AccessRepository } from '../repositories/access-repository.ts';
import { connection, decodeIdCursor, validateFirst } from './pagination.ts';
import { isUuid } from './taxonomy-service.ts';

export const ROLES = ['admin', 'scorer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  /** the key's name, or `anonymous` in open mode; recorded in the history and the audit log */
  name: string;
  role: Role;
  keyId: string | null;
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

export class AccessService {
  private openMode = true;

  constructor(private readonly repository: AccessRepository) {}

  /** Registers the bootstrap admin key (NEGLABEL_ADMIN_KEY) if new, and decides open mode. */
  async start(bootstrapAdminKey: string | undefined): Promise<void> {
    if (bootstrapAdminKey) {
      if (bootstrapAdminKey.length < 16) throw new Error('NEGLABEL_ADMIN_KEY must be at least 16 characters');
      if (!(await this.repository.findActiveByHash(hash(bootstrapAdminKey)))) {
        await this.repository.createKey({ name: 'bootstrap-admin', role: 'admin', keyHash: hash(bootstrapAdminKey), keyPrefix: bootstrapAdminKey.slice(0, 6), createdBy: 'NEGLABEL_ADMIN_KEY' });
      }
    }
    await this.refreshMode();
  }

  private async refreshMode(): Promise<void> {
    this.openMode = !(await this.repository.hasActiveKeys());
  }

  get isOpen(): boolean {
    return this.openMode;
  }

  /** The caller of a request from its Authorization header. */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!authorization) {
      if (this.openMode) return { name: 'anonymous', role: 'admin', keyId: null };
      throw new DomainError('UNAUTHENTICATED', 'This service requires an API key: send `Authorization: Bearer <key>` (an admin creates keys with createApiKey).');
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) throw new DomainError('UNAUTHENTICATED', 'The Authorization header must be `Bearer <key>`.');
    const key = await this.repository.findActiveByHash(hash(match[1]));
    if (!key) throw new DomainError('UNAUTHENTICATED', 'The API key is unknown or revoked: ask an admin for a valid key.');
    return { name: key.name, role: key.role as Role, keyId: key.id };
  }

  async createKey(input: { name: string; role: string }, actor: Caller) {
    const name = input.name.trim();
    if (!name || name.length > 100) throw new InvalidInputError('name must be 1 to 100 characters.', { field: 'name' });
    const role = input.role.toLowerCase();
    if (!(ROLES as readonly string[]).includes(role)) throw new InvalidInputError(`role must be one of ${ROLES.join(', ')}.`, { field: 'role' });
    const key = `nl_${randomBytes(24).toString('base64url')}`;
    const record = await this.repository.createKey({ name, role, keyHash: hash(key), keyPrefix: key.slice(0, 6), createdBy: actor.name });
    await this.audit(actor, 'createApiKey', record.id, { name, role });
    await this.refreshMode();
    return { key, apiKey: record };
  }

  async revokeKey(id: string, actor: Caller) {
    const key = isUuid(id) ? await this.repository.findKey(id) : null;
    if (!key) throw new NotFoundError('API key', id, 'query `apiKeys` for the ids');
    const revoked = key.revokedAt ? key : await this.repository.revokeKey(id);
    await this.audit(actor, 'revokeApiKey', id, { name: key.name });
    await this.refreshMode();
    return revoked;
  }

  listKeys() {
    return this.repository.listKeys();
  }

  audit(actor: Caller, action: string, target: string | null, details: object = {}): Promise<void> {
    return this.repository.appendAudit({ actor: actor.name, action, target, details });
  }

  async auditPage(first: number, after: string | null) {
    validateFirst(first, 500);
    const cursor = decodeIdCursor(after, 'auditLog');
    const page = await this.repository.auditPage(first, cursor === null ? null : BigInt(cursor));
    return connection(page.rows.map((row) => ({ ...row, id: String(row.id) })), page.hasNextPage, (node) => node.id);
  }
}

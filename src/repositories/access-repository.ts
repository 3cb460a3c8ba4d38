/** API keys and the append-only audit log. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { HORIZON, parsePosition } from './history-position.ts';

/** Transaction advisory lock taken by whoever creates the first key (open mode ends with it). */
const FIRST_KEY_LOCK = 72_707_369_004;

export interface NewApiKey {
  name: string;
  role: string;
  keyHash: string;
  keyPrefix: string;
  createdBy: string | null;
  taxonomyIds: string[];
}

export class AccessRepository {
  constructor(private readonly prisma: PrismaClient) {}

  createKey(data: NewApiKey) {
    return this.prisma.apiKey.create({ data });
  }

  /**
   * Creates a key only if no key exists yet in the database, whichever process asks: the first
   * key ends open mode for every process, so two anonymous callers racing through two processes
   * cannot both make one. Null when a key already existed.
   */
  createFirstKey(data: NewApiKey) {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${FIRST_KEY_LOCK}::bigint)`;
      if ((await tx.apiKey.count()) > 0) return null;
      return tx.apiKey.create({ data });
    });
  }

  /** Registers a key unless one with its hash exists (idempotent: processes may start together). */
  async createKeyIfAbsent(data: NewApiKey): Promise<void> {
    await this.prisma.apiKey.createMany({ data: [data], skipDuplicates: true });
  }

  findActiveByHash(keyHash: string) {
    return this.prisma.apiKey.findFirst({ where: { keyHash, revokedAt: null } });
  }

  /** Any key, revoked or not: a service that ever had a key never runs open again. */
  anyKeyEverExisted(): Promise<boolean> {
    return this.prisma.apiKey.count().then((n) => n > 0);
  }

  findByHash(keyHash: string) {
    return this.prisma.apiKey.findUnique({ where: { keyHash } });
  }

  /**
   * Revokes a key unless it is the last active admin key, atomically: the active admin rows are
   * locked first, so two admins revoking each other at once cannot both succeed.
   */
  revokeUnlessLastAdmin(id: string) {
    return this.prisma.$transaction(async (tx) => {
      const admins = await tx.$queryRaw<
        Array<{ id: string }>
      >`SELECT id::text AS id FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL ORDER BY id FOR UPDATE`;
      if (admins.length <= 1 && admins.some((a) => a.id === id)) return 'last-admin' as const;
      return tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    });
  }

  listKeys() {
    return this.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' } });
  }

  findKey(id: string) {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  async appendAudit(entry: {
    actor: string;
    action: string;
    target: string | null;
    details: object;
    taxonomyId: string | null;
  }): Promise<void> {
    // the id, writer and time are the database's (Prisma's create would send created_at, which a
    // runtime role may not set: docs/database-roles.sql)
    await this.prisma.$executeRawUnsafe(
      'INSERT INTO audit_log (actor, action, target, details, taxonomy_id) VALUES ($1, $2, $3, $4::jsonb, $5::uuid)',
      entry.actor,
      entry.action,
      entry.target,
      JSON.stringify(entry.details),
      entry.taxonomyId,
    );
  }

  /**
   * Newest first in the log's order, below the horizon (history-position.ts): an entry committed
   * later never lands behind a page already read.
   */
  /** `taxonomyIds`: only entries about these taxonomies (a scoped key), or null for all. */
  async auditPage(first: number, before: string | null, taxonomyIds: string[] | null) {
    const position = parsePosition(before) ?? { xid: null, id: null };
    const rows = await this.prisma.$queryRawUnsafe<
      Array<{
        id: string;
        position: string;
        createdAt: Date;
        actor: string;
        action: string;
        target: string | null;
        details: unknown;
      }>
    >(
      `SELECT id::text AS id, writer_xid::text || ':' || id AS position, created_at AS "createdAt", actor, action,
         target, details
       FROM audit_log
       WHERE writer_xid < ${HORIZON} AND ($1::xid8 IS NULL OR (writer_xid, id) < ($1::xid8, $2::bigint))
         AND ($4::uuid[] IS NULL OR taxonomy_id = ANY($4::uuid[]))
       ORDER BY writer_xid DESC, id DESC LIMIT $3`,
      position.xid,
      position.id,
      first + 1,
      taxonomyIds,
    );
    return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
  }
}

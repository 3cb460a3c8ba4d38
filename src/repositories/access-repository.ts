/** API keys and the append-only audit log. */
import type { PrismaClient } from '../generated/prisma/client.ts';

export class AccessRepository {
  constructor(private readonly prisma: PrismaClient) {}

  createKey(data: {
    name: string;
    role: string;
    keyHash: string;
    keyPrefix: string;
    createdBy: string | null;
    taxonomyIds: string[];
  }) {
    return this.prisma.apiKey.create({ data });
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

  async appendAudit(entry: { actor: string; action: string; target: string | null; details: object }): Promise<void> {
    await this.prisma.auditLogEntry.create({ data: { ...entry, details: entry.details as never } });
  }

  async auditPage(first: number, beforeId: bigint | null) {
    const rows = await this.prisma.auditLogEntry.findMany({
      where: beforeId === null ? undefined : { id: { lt: beforeId } },
      orderBy: { id: 'desc' },
      take: first + 1,
    });
    return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
  }
}

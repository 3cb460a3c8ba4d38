/** API keys and the append-only audit log. */
import type { PrismaClient } from '../generated/prisma/client.ts';

export class AccessRepository {
  constructor(private readonly prisma: PrismaClient) {}

  createKey(data: { name: string; role: string; keyHash: string; keyPrefix: string; createdBy: string | null }) {
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

  countActiveAdmins(): Promise<number> {
    return this.prisma.apiKey.count({ where: { revokedAt: null, role: 'admin' } });
  }

  listKeys() {
    return this.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' } });
  }

  findKey(id: string) {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  revokeKey(id: string) {
    return this.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
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

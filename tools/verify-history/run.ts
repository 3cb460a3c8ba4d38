/**
 * `npm run verify-history`: checks a neglabel history log without trusting the service that kept it.
 *
 *   npm run verify-history -- --export log.jsonl --public-key history.pub.pem [--checkpoint kept.json]
 *   npm run verify-history -- --database-url postgres://… --public-key history.pub.pem
 *
 * The export is what GET /v1/history/log streamed. Only the public keys given are trusted (the
 * keys' PEM files, from the historySigningKeys query or the operator), and each --checkpoint is
 * one the auditor kept earlier (the historyCheckpoint query's answer, as JSON): the history must
 * still hold it. The live mode reads the same lines from the database itself, and also finds
 * records written behind the sealer that the log never took in. Prints what it checked and the
 * first positions that do not match; exits 0 when everything verifies, 1 when something does not,
 * 2 on a usage error.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { HistoryLogRepository } from '../../src/repositories/history-log-repository.ts';
import { HistoryLogService } from '../../src/services/history-log-service.ts';
import { trustedKeys } from '../../src/transparency/checkpoint.ts';
import { leafName } from '../../src/transparency/leaf.ts';
import {
  type CheckpointJson,
  checkpointFromJson,
  type ExportLine,
  type VerifyReport,
  verifyHistoryLog,
} from '../../src/transparency/verify.ts';

/** The lines of an export file, parsed one at a time. */
export async function* exportFileLines(file: string): AsyncGenerator<ExportLine> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    try {
      yield JSON.parse(text) as ExportLine;
    } catch {
      throw new Error(`line ${n} of ${file} is not JSON: is the file a neglabel history log export?`);
    }
  }
}

export interface VerifyArguments {
  exportFile?: string;
  databaseUrl?: string;
  /** a pool to read instead of opening databaseUrl (left open) */
  pool?: pg.Pool;
  publicKeys: string[];
  keptCheckpoints: CheckpointJson[];
}

/** Verifies an export file or a live database; the live mode adds the records the log lacks. */
export async function verifyHistory(args: VerifyArguments): Promise<VerifyReport> {
  const options = { trusted: trustedKeys(args.publicKeys), pinned: args.keptCheckpoints.map(checkpointFromJson) };
  if (args.exportFile) return verifyHistoryLog(exportFileLines(args.exportFile), options);
  const pool = args.pool ?? new pg.Pool({ connectionString: args.databaseUrl, max: 2 });
  try {
    const log = new HistoryLogRepository(pool);
    const report = await verifyHistoryLog(new HistoryLogService(log).exportLines(), options);
    const latest = await log.latestCheckpoint();
    if (latest) {
      for (const row of await log.unsealedBehind(latest.scoring, latest.audit, 20))
        report.problems.push({
          position: null,
          message:
            `${leafName(row.kind, row.id)} sits before the last sealed position but is not in the log (written ` +
            'behind the sealer: forged or restored)',
        });
      report.ok = report.problems.length === 0;
    }
    return report;
  } finally {
    if (!args.pool) await pool.end();
  }
}

const USAGE =
  'usage: npm run verify-history -- (--export <file.jsonl> | --database-url <url>) --public-key <pem file> ' +
  '[--public-key …] [--checkpoint <kept checkpoint json>] [--json]';

async function main(): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> }>
  >;
  try {
    parsed = parseArgs({
      options: {
        export: { type: 'string' },
        'database-url': { type: 'string' },
        'public-key': { type: 'string', multiple: true },
        checkpoint: { type: 'string', multiple: true },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const keys = (v['public-key'] as string[] | undefined) ?? [];
  if (Boolean(v.export) === Boolean(v['database-url']) || keys.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const report = await verifyHistory({
    exportFile: v.export as string | undefined,
    databaseUrl: v['database-url'] as string | undefined,
    publicKeys: keys.map((file) => readFileSync(file, 'utf8')),
    keptCheckpoints: ((v.checkpoint as string[] | undefined) ?? []).map((file) =>
      JSON.parse(readFileSync(file, 'utf8')),
    ),
  });
  if (v.json) console.log(JSON.stringify(report));
  else {
    console.log(
      `${report.leaves} leaves read, ${report.sealedLeaves} covered by ${report.checkpoints} checkpoints: ` +
        (report.ok ? 'the history verifies' : `${report.problems.length} problem(s)`),
    );
    for (const p of report.problems)
      console.log(`  ${p.position === null ? '-' : `position ${p.position}`}: ${p.message}`);
  }
  return report.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(path.resolve(process.argv[1] ?? '')).href) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`verify-history: ${(error as Error).message}`);
      process.exit(2);
    },
  );
}

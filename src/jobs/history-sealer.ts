/**
 * The history sealer: every few seconds it appends the scoring records and audit entries committed
 * since the last checkpoint to the Merkle log and signs a new checkpoint. Any number of processes
 * may run one; the repository's lock lets one seal at a time, and a round either writes its leaves
 * and checkpoint or nothing. Scoring never waits for it: it reads below the history's horizon and
 * writes only the log's own tables.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import type {
  HistoryLogRepository,
  SealedRound,
  StoredCheckpoint,
  UnsealedRow,
} from '../repositories/history-log-repository.ts';
import {
  checkpointHash,
  newSigningKeyPem,
  type SigningKey,
  signCheckpoint,
  signingKeyFromPem,
} from '../transparency/checkpoint.ts';
import { historyLeafHash } from '../transparency/leaf.ts';
import { Frontier, isStoredLevel } from '../transparency/merkle.ts';

/**
 * The signing key from its PEM text, else from `file`, created there (0600, its folder 0700) when
 * missing: a key of this process's data folder.
 */
export function loadSigningKey(pem: string | undefined, file: string, logger: Logger): SigningKey {
  if (pem) return signingKeyFromPem(pem);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, newSigningKeyPem(), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    logger.info({ file }, 'created the history signing key: keep a copy, and give verifiers its public key');
  } else if ((statSync(file).mode & 0o077) !== 0) {
    logger.warn({ file }, 'the history signing key is readable by other users: chmod 600 it');
  }
  return signingKeyFromPem(readFileSync(file, 'utf8'));
}

/** Appends rows to the tree after `previous` and signs the result: one round's writes. */
export function buildRound(previous: StoredCheckpoint | null, rows: UnsealedRow[], key: SigningKey): SealedRound {
  const frontier = previous ? Frontier.of(previous.frontier, previous.treeSize) : Frontier.empty();
  const leaves: SealedRound['leaves'] = [];
  const nodes: SealedRound['nodes'] = [];
  let scoring = previous?.scoring ?? { xid: '0', id: '0' };
  let audit = previous?.audit ?? { xid: '0', id: '0' };
  for (const row of rows) {
    const position = frontier.size;
    const hash = historyLeafHash({ position, kind: row.kind, fields: row.fields });
    leaves.push({ position, kind: row.kind, recordId: row.id, hash });
    frontier.append(hash, (level, index, node) => {
      if (isStoredLevel(level)) nodes.push({ level, index, hash: node });
    });
    if (row.kind === 'scoring') scoring = { xid: row.xid, id: row.id };
    else audit = { xid: row.xid, id: row.id };
  }
  const signed = signCheckpoint(
    {
      treeSize: frontier.size,
      rootHash: frontier.root(),
      signedAt: new Date(),
      previousHash: previous ? checkpointHash(previous) : null,
    },
    key,
  );
  return { leaves, nodes, checkpoint: { ...signed, frontier: [...frontier.hashes], scoring, audit } };
}

export interface HistorySealerOptions {
  intervalMs: number;
  /** leaves per round (one transaction) */
  batchSize: number;
}

export class HistorySealer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(
    private readonly log: HistoryLogRepository,
    private readonly key: SigningKey,
    private readonly logger: Logger,
    private readonly options: HistorySealerOptions,
  ) {}

  get keyId(): string {
    return this.key.keyId;
  }

  async start(): Promise<void> {
    await this.log.registerKey(this.key.keyId, this.key.publicKeyPem);
    if (this.options.intervalMs > 0) this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sealAll().then(
        () => this.schedule(),
        (error) => {
          this.logger.warn({ err: error }, 'could not seal the history: retrying at the next round');
          this.schedule();
        },
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * Seals everything committed below the horizon now, round after round; returns how many leaves
   * this process sealed (0 when another process holds the lock). Calls overlap into one.
   */
  sealAll(): Promise<number> {
    this.running ??= (async () => {
      let sealed = 0;
      try {
        for (;;) {
          const round = await this.log.seal(this.options.batchSize, (previous, rows) =>
            buildRound(previous, rows, this.key),
          );
          if (!round) break;
          sealed += round;
          if (round < this.options.batchSize) break;
        }
      } finally {
        this.running = null;
      }
      if (sealed > 0) this.logger.debug({ sealed }, 'history sealed');
      return sealed;
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }
}

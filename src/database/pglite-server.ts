/**
 * Serves one PGlite database to many connections, correctly.
 *
 * PGlite is a single Postgres backend. `@electric-sql/pglite-socket` queues messages one by one,
 * so the Parse/Bind/Execute/Sync messages of two connections interleave and one connection's
 * unnamed statement replaces the other's ("unnamed prepared statement does not exist"). Here a
 * connection *owns* the backend from its first message until the backend is idle again: until a
 * ReadyForQuery with status 'I' (so a whole transaction, or a whole extended-protocol exchange
 * up to Sync outside a transaction, runs before another connection's messages reach the backend).
 * The others wait their turn, first come first served.
 *
 * An owner that disappears is cleaned up (Sync, then ROLLBACK if a transaction is open); an owner
 * that holds the backend idle longer than `idleInTransactionMs` is disconnected, as Postgres'
 * idle_in_transaction_session_timeout would, so one stuck client cannot freeze every process.
 *
 * One backend also means one session: `SET` commands of one connection are seen by all.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const SYNC = Uint8Array.from([0x53, 0, 0, 0, 4]);
const READY_FOR_QUERY = 0x5a; // 'Z'
const TERMINATE = 0x58; // 'X'

/** A simple-protocol Query message. */
function queryMessage(sql: string): Uint8Array {
  const body = Buffer.from(`${sql}\0`);
  const message = Buffer.alloc(5 + body.length);
  message[0] = 0x51; // 'Q'
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

/** An ErrorResponse a client shows as an ordinary database error. */
function errorMessage(sqlState: string, text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlState}\0M${text}\0\0`);
  const message = Buffer.alloc(5 + fields.length);
  message[0] = 0x45; // 'E'
  message.writeInt32BE(4 + fields.length, 1);
  fields.copy(message, 5);
  return message;
}

/** The transaction status of the last ReadyForQuery in a backend response, or null if none. */
export function lastReadyStatus(response: Uint8Array): string | null {
  let status: string | null = null;
  const view = Buffer.from(response.buffer, response.byteOffset, response.byteLength);
  for (let at = 0; at + 5 <= view.length; at += 1 + view.readInt32BE(at + 1)) {
    if (view[at] === READY_FOR_QUERY) status = String.fromCharCode(view[at + 5]);
  }
  return status;
}

/** PostgreSQL's own bound on a startup packet (MAX_STARTUP_PACKET_LENGTH) */
const MAX_STARTUP_PACKET = 10_000;

class Connection {
  buffer: Buffer = Buffer.alloc(0);
  readonly pending: Uint8Array[] = [];
  started = false;
  pumping = false;
  closed = false;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly socket: Socket) {}

  /** Splits complete protocol messages off the buffer (the startup packet has no type byte). */
  takeMessages(): Uint8Array[] | 'close' {
    const messages: Uint8Array[] = [];
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) break;
        const length = this.buffer.readInt32BE(0);
        // a length that does not cover its own header would be read again and again (a 100 % CPU
        // loop); PostgreSQL refuses startup packets outside these bounds the same way
        if (length < 8 || length > MAX_STARTUP_PACKET) return 'close';
        if (this.buffer.length < length) break;
        const code = this.buffer.readInt32BE(4);
        const packet = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N'); // no encryption on a private Unix socket
          continue;
        }
        if (code === CANCEL_REQUEST) return 'close'; // one backend cannot be interrupted
        this.started = true;
        messages.push(new Uint8Array(packet));
        continue;
      }
      if (this.buffer.length < 5) break;
      const declared = this.buffer.readInt32BE(1);
      if (declared < 4) return 'close'; // the length counts itself: less is a broken client
      const length = 1 + declared;
      if (this.buffer.length < length) break;
      messages.push(new Uint8Array(this.buffer.subarray(0, length)));
      this.buffer = this.buffer.subarray(length);
    }
    return messages;
  }
}

export interface PgliteServerOptions {
  /** Unix socket path */
  path: string;
  maxConnections: number;
  /** an owner idle this long is disconnected (0 = never) */
  idleInTransactionMs: number;
  onError?: (message: string, error: unknown) => void;
}

export class PgliteServer {
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private owner: Connection | null = null;
  private readonly waiting: Array<{ connection: Connection; grant: () => void }> = [];

  constructor(
    private readonly db: PGlite,
    private readonly options: PgliteServerOptions,
  ) {}

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
    // let the cleanup of a connection that owned the backend finish before the database closes
    while (this.owner) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.options.maxConnections) {
      socket.end(
        errorMessage(
          '53300',
          `the embedded database accepts at most ${this.options.maxConnections} connections: lower the pool sizes ` +
            `of the processes sharing it`,
        ),
      );
      return;
    }
    const connection = new Connection(socket);
    this.connections.add(connection);
    socket.on('data', (chunk) => {
      connection.buffer = connection.buffer.length ? Buffer.concat([connection.buffer, chunk]) : chunk;
      const messages = connection.takeMessages();
      if (messages === 'close') {
        socket.destroy();
        return;
      }
      connection.pending.push(...messages);
      void this.pump(connection);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void this.disconnect(connection));
  }

  /** Waits until `connection` owns the backend. */
  private acquire(connection: Connection): Promise<void> | void {
    if (this.owner === connection) return;
    if (this.owner === null) {
      this.owner = connection;
      return;
    }
    return new Promise((grant) => this.waiting.push({ connection, grant }));
  }

  private release(): void {
    this.owner = null;
    const next = this.waiting.shift();
    if (next) {
      this.owner = next.connection;
      next.grant();
    }
  }

  private async pump(connection: Connection): Promise<void> {
    if (connection.pumping) return;
    connection.pumping = true;
    clearTimeout(connection.idleTimer);
    try {
      while (connection.pending.length > 0 && !connection.closed) {
        await this.acquire(connection);
        if (connection.closed) return; // its disconnect() cleans up and releases
        const message = connection.pending.shift()!;
        if (message[0] === TERMINATE && connection.started) {
          connection.socket.end();
          return;
        }
        const response = await this.db.runExclusive(() => this.db.execProtocolRaw(message));
        if (!connection.closed) connection.socket.write(response);
        if (lastReadyStatus(response) === 'I' && this.owner === connection && !connection.closed) this.release();
      }
      if (this.owner === connection && this.options.idleInTransactionMs > 0) {
        // holding the backend without sending anything: everyone else waits, so not for long
        connection.idleTimer = setTimeout(() => {
          this.options.onError?.(
            'a connection held the embedded database idle in a transaction too long: disconnected it',
            null,
          );
          connection.socket.destroy();
        }, this.options.idleInTransactionMs);
      }
    } catch (error) {
      this.options.onError?.('the embedded database failed a request: closing that connection', error);
      connection.socket.destroy();
    } finally {
      connection.pumping = false;
    }
  }

  private async disconnect(connection: Connection): Promise<void> {
    if (connection.closed) return;
    connection.closed = true;
    clearTimeout(connection.idleTimer);
    connection.pending.length = 0;
    this.connections.delete(connection);
    const queued = this.waiting.findIndex((w) => w.connection === connection);
    if (queued >= 0) this.waiting.splice(queued, 1);
    if (this.owner !== connection) return;
    // wait for a message of its still in the backend, then end what it left open
    while (connection.pumping) await new Promise((resolve) => setTimeout(resolve, 1));
    try {
      await this.db.runExclusive(async () => {
        const status = lastReadyStatus(await this.db.execProtocolRaw(SYNC));
        if (status !== 'I') await this.db.execProtocolRaw(queryMessage('ROLLBACK'));
      });
    } catch (error) {
      this.options.onError?.('could not roll back after a connection closed mid-transaction', error);
    }
    this.release();
  }
}

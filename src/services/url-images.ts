/**
 * Fetches an image a client names by URL, without letting the URL reach inside the network the
 * service runs in (SSRF): http and https only; every hop's name is resolved here and each address
 * checked (loopback, private, link-local, metadata, multicast and reserved ranges are refused
 * unless allowed), and the connection goes to the address that was checked, so a name that
 * resolves differently a second time (DNS rebinding) cannot slip through. Bounded by a connect
 * timeout, a total timeout, a size cap, a redirect limit, and a number of fetches at once, in all
 * and to one host (FetchSlots), so one request naming hundreds of URLs cannot turn the service
 * into a flood towards a host.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { PrivateAddressAllowance } from '../config.ts';
import { InvalidInputError } from '../errors.ts';
import { CountsByKey } from '../lib/counts-by-key.ts';

export interface UrlFetchOptions {
  /** private addresses allowed anyway: all of them, those in a list of subnets, or none */
  allowPrivate: PrivateAddressAllowance;
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** the process's outbound fetches, shared by every request */
  slots: FetchSlots;
}

/**
 * Outbound fetches this process runs at once: at most `maxActive` in all and `maxPerHost` to one
 * host. A fetch waits for its slot within its own total timeout. A bound on this process's
 * sockets, so it is kept per process (each process is bounded alike).
 */
export class FetchSlots {
  private readonly fetching = new CountsByKey();
  private readonly queue: { host: string; start: () => void }[] = [];

  constructor(
    private readonly maxActive: number,
    private readonly maxPerHost: number,
  ) {}

  /** Waits for a slot for `host`, or rejects when `signal` aborts first; the result frees it. */
  acquire(host: string, signal: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const abandon = () => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) this.queue.splice(at, 1);
        reject(signal.reason);
      };
      const entry = {
        host,
        start: () => {
          signal.removeEventListener('abort', abandon);
          resolve(this.fetching.take(host, () => this.startWaiting()));
        },
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', abandon, { once: true });
      this.queue.push(entry);
      this.startWaiting();
    });
  }

  /** Starts, in arrival order, every waiting fetch whose host and the total have room. */
  private startWaiting(): void {
    for (let i = 0; i < this.queue.length && this.fetching.total < this.maxActive; ) {
      const entry = this.queue[i];
      if (this.fetching.of(entry.host) >= this.maxPerHost) i++;
      else {
        this.queue.splice(i, 1);
        entry.start();
      }
    }
  }
}

/** Addresses a public image URL never legitimately resolves to. */
const BLOCKED = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  ['::', 96], // ::, ::1 and IPv4-compatible ::a.b.c.d
  ['fc00::', 7], // unique local, AWS metadata fd00:ec2::254
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96], // NAT64 of any IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2002::', 16], // 6to4: an IPv4 address (a private one too) inside
  ['2001::', 32], // Teredo: likewise
  ['fec0::', 10], // site-local (deprecated, still routed by some stacks)
] as const)
  BLOCKED.addSubnet(prefix, bits, 'ipv6');

/** True when a resolved address is loopback, private, link-local, metadata or reserved. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

function addressAllowed(address: string, options: UrlFetchOptions): boolean {
  if (options.allowPrivate === 'all' || !isPrivateAddress(address)) return true;
  return options.allowPrivate?.check(address, net.isIP(address) === 6 ? 'ipv6' : 'ipv4') ?? false;
}

/**
 * NEGLABEL_ALLOW_PRIVATE_URLS: unset (none), `1` (all), or a comma-separated list of addresses and
 * subnets (`10.1.2.3`, `10.20.0.0/16`) an internal image host lives at.
 */
function urlError(code: string, message: string, url: string): InvalidInputError {
  return new InvalidInputError(message, { url }, code);
}

const notAllowed = (url: string, why: string) =>
  urlError(
    'URL_NOT_ALLOWED',
    `${why}: image URLs must reach a public address (set NEGLABEL_ALLOW_PRIVATE_URLS=1 to allow private ones).`,
    url,
  );

/** One request to one hop; resolves with the status, the redirect target and the body (when 2xx). */
function fetchHop(
  url: URL,
  options: UrlFetchOptions,
  signal: AbortSignal,
  onChunk: (bytes: number) => void,
): Promise<{ status: number; location?: string; body?: Buffer }> {
  return new Promise((resolve, reject) => {
    // the connection uses the address this lookup checked: no second resolution to rebind
    const lookup: net.LookupFunction = (hostname, lookupOptions, callback) => {
      dns.lookup(hostname, { all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0);
        const allowed = addresses.filter((a) => addressAllowed(a.address, options));
        if (allowed.length === 0) {
          return callback(notAllowed(url.href, `${hostname} resolves to a private address`), '', 0);
        }
        if ((lookupOptions as { all?: boolean }).all) return (callback as any)(null, allowed);
        callback(null, allowed[0].address, allowed[0].family);
      });
    };
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(literal) && !addressAllowed(literal, options)) {
      reject(notAllowed(url.href, `${literal} is a private address`));
      return;
    }
    const client = url.protocol === 'https:' ? https : http;
    const request = client.get(url, { lookup, signal, headers: { accept: 'image/*' } }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        response.resume();
        resolve({ status, location: response.headers.location });
        return;
      }
      if (status < 200 || status >= 300) {
        response.resume();
        resolve({ status });
        return;
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) {
        response.destroy();
        reject(tooLarge(url.href, options.maxBytes));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          response.destroy();
          reject(tooLarge(url.href, options.maxBytes));
          return;
        }
        try {
          onChunk(chunk.length);
        } catch (error) {
          response.destroy();
          reject(error);
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    const connectTimer = setTimeout(
      () =>
        request.destroy(
          urlError('URL_TIMEOUT', `connecting to ${url.host} took over ${options.connectTimeoutMs} ms`, url.href),
        ),
      options.connectTimeoutMs,
    );
    request.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    request.on('close', () => clearTimeout(connectTimer));
    request.on('error', reject);
  });
}

const tooLarge = (url: string, max: number) =>
  urlError('IMAGE_TOO_LARGE', `the image at the URL is over ${max} bytes: send a smaller file.`, url);

/**
 * The bytes of the image at `raw`, following at most `maxRedirects` redirects, each hop checked.
 * `onChunk` sees each chunk's size as it arrives and may throw to stop the download (a budget).
 */
export async function fetchImageUrl(
  raw: string,
  options: UrlFetchOptions,
  onChunk: (bytes: number) => void = () => {},
): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw urlError('INVALID_URL', `${JSON.stringify(raw.slice(0, 200))} is not a URL.`, raw.slice(0, 200));
  }
  const controller = new AbortController();
  const total = setTimeout(() => controller.abort(), options.totalTimeoutMs);
  try {
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw urlError('URL_NOT_ALLOWED', `${url.protocol} URLs are refused: use http or https.`, url.href);
      const target = url;
      const result = await options.slots
        .acquire(target.hostname, controller.signal)
        .then((free) => fetchHop(target, options, controller.signal, onChunk).finally(free))
        .catch((error: Error) => {
          if (error instanceof InvalidInputError) throw error;
          if (controller.signal.aborted)
            throw urlError(
              'URL_TIMEOUT',
              `fetching the image (waiting for a free outbound slot included) took over ${options.totalTimeoutMs} ms.`,
              target.href,
            );
          throw urlError('URL_FETCH_FAILED', `fetching ${target.host} failed: ${error.message}`, target.href);
        });
      if (result.body) return new Uint8Array(result.body);
      if (result.location === undefined)
        throw urlError('URL_FETCH_FAILED', `the server answered HTTP ${result.status}.`, url.href);
      if (hop >= options.maxRedirects)
        throw urlError('URL_FETCH_FAILED', `more than ${options.maxRedirects} redirects.`, url.href);
      url = new URL(result.location, url);
    }
  } finally {
    clearTimeout(total);
  }
}

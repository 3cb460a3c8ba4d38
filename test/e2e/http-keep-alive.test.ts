/**
 * Behind a load balancer the balancer must close idle keep-alive connections, not the service:
 * Node's own default (5 s) would reset a connection the balancer still thinks is open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestApp } from '../helpers/app.ts';

/** One keep-alive request, then whether the server closed the idle connection within `idleMs`. */
async function closedWhileIdle(url: string, idleMs: number): Promise<boolean> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const socket = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const request = http.get(`${url}/healthz`, { agent }, (response) => {
        response.resume();
        response.on('end', () => resolve(request.socket!));
      });
      request.on('error', reject);
    });
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    return await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), idleMs))]);
  } finally {
    agent.destroy();
  }
}

test(
  "idle keep-alive connections outlive Node's 5 s default by default, and follow " + 'NEGLABEL_KEEP_ALIVE_TIMEOUT_MS',
  async () => {
    const defaults = await startTestApp();
    try {
      assert.equal(await closedWhileIdle(defaults.url, 6_000), false, 'still open after 6 s (default 65 s)');
    } finally {
      await defaults.close();
    }
    const short = await startTestApp({ NEGLABEL_KEEP_ALIVE_TIMEOUT_MS: '1000', NEGLABEL_HEADERS_TIMEOUT_MS: '2000' });
    try {
      assert.equal(await closedWhileIdle(short.url, 3_000), true, 'closed by the server after 1 s');
    } finally {
      await short.close();
    }
  },
);

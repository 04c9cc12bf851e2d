import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeShutdown, type Logger } from '@lms/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { httpDrain } from '../src/drain.js';

const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** A server answering `/slow` after `slowMs` and anything else at once, on a keep-alive agent of its own. */
async function serve(slowMs = 300) {
  const server = http.createServer((req, res) => {
    const answer = () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    if (req.url === '/slow') setTimeout(answer, slowMs);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new http.Agent({ keepAlive: true });
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<{ status: number; connection: string | undefined }>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        })
        .on('error', reject),
    );
  return { server, agent, get };
}

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

describe('the gateway drain', () => {
  it('serves on, answering Connection: close, for the grace once a load balancer probed it; then ends streams, finishes the request in hand and stops listening', async () => {
    const { server, agent, get } = await serve();
    cleanup.push(
      () => agent.destroy(),
      () => server.closeAllConnections(),
    );
    const shutdown = new NodeShutdown();
    let streamsEnded = 0;
    httpDrain(server, shutdown, { graceMs: 400, timeoutMs: 5_000, endStreams: () => streamsEnded++, log: quiet });
    expect((await get('/health/ready')).connection).toBe('keep-alive'); // a probe: a load balancer watches this gateway

    const started = performance.now();
    const drained = shutdown.drain(quiet);
    expect(shutdown.draining).toBe(true);
    // During the grace, requests are served, each answer closing its connection.
    expect(await get('/api/v1/catalog')).toEqual({ status: 200, connection: 'close' });
    const inHand = get('/slow');
    await drained;
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(await inHand).toEqual({ status: 200, connection: 'close' });
    expect(streamsEnded).toBe(1);
    expect(server.listening).toBe(false);
    await expect(get('/api/v1/catalog')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('skips the grace when nothing ever probed readiness (no load balancer to wait for)', async () => {
    const { server, agent, get } = await serve();
    cleanup.push(
      () => agent.destroy(),
      () => server.closeAllConnections(),
    );
    const shutdown = new NodeShutdown();
    httpDrain(server, shutdown, { graceMs: 10_000, timeoutMs: 5_000, endStreams: () => {}, log: quiet });
    await get('/api/v1/catalog'); // an idle keep-alive connection, closed by the drain
    const started = performance.now();
    await shutdown.drain(quiet);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(server.listening).toBe(false);
  });

  it('cuts the connections still open after the timeout', async () => {
    const { server, agent, get } = await serve(60_000);
    cleanup.push(() => agent.destroy());
    const shutdown = new NodeShutdown();
    httpDrain(server, shutdown, { graceMs: 0, timeoutMs: 200, endStreams: () => {}, log: quiet });
    const stuck = get('/slow').catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await shutdown.drain(quiet);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(String(await stuck)).toMatch(/socket hang up|ECONNRESET/);
  });
});

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger, NodeShutdown } from '@lms/runtime';

export interface HttpDrainOptions {
  /** How long to go on serving, not ready, before closing: longer than the load balancer takes to mark this gateway down. */
  graceMs: number;
  /** Longest wait for the requests in hand to be answered once the server stopped accepting; then the rest are cut. */
  timeoutMs: number;
  /** Ends the long-lived responses (event streams), which would otherwise hold the drain until its timeout. */
  endStreams: () => void;
  log: Logger;
}

/**
 * The gateway's part of a graceful stop (registered with the node's `shutdown.beforeLeave`). From the moment the
 * node is draining, `/health/ready` and `/health/serving` answer 503 (health.ts) and every response carries `Connection: close`, so a
 * client or proxy that still reaches this gateway does not keep the connection for a next request. Then, in order:
 *
 * 1. It goes on serving for `graceMs`: a load balancer that probes readiness (HAProxy, Kubernetes) sees it down and
 *    sends new requests elsewhere. A gateway nobody ever probed (a developer's `pnpm start`) skips the wait.
 * 2. Event streams end (`event: end`, reason `server_stopping`: the client reconnects, through the balancer).
 * 3. The server stops listening and closes its idle keep-alive connections; a connection with a request in hand
 *    closes after that answer (`Connection: close`). It waits up to `timeoutMs` for them, then cuts what is left.
 *
 * Only after this does the node leave the mesh: the requests answered here could still call every service.
 */
export function httpDrain(server: Server, shutdown: NodeShutdown, o: HttpDrainOptions): void {
  let probed = false;
  // Before moleculer-web's handler, so that the header is set before any answer starts.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/health/ready') || req.url?.startsWith('/health/serving')) probed = true;
    if (shutdown.draining && !res.headersSent) res.setHeader('Connection', 'close');
  });
  shutdown.beforeLeave(async () => {
    if (probed && o.graceMs > 0) {
      o.log.info(`not ready; serving ${o.graceMs} ms more while the load balancer takes this gateway out`);
      await new Promise((r) => setTimeout(r, o.graceMs));
    }
    o.endStreams();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A connection whose answer began before the drain (an event stream just ended, a download) turns idle only later,
    // without `Connection: close`: closed as soon as it is idle.
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), o.timeoutMs)));
    if (await Promise.race([closed.then(() => false), timedOut])) {
      o.log.warn(`requests still open after ${o.timeoutMs} ms; closing their connections`);
      server.closeAllConnections();
      await closed;
    }
    clearInterval(sweep);
    clearTimeout(timer);
  });
}

/**
 * A 3-server NATS cluster of a test's own, every server running the committed infra/nats/cluster.conf (JetStream,
 * `sync_interval: always`, authenticated routes, the role permissions), with Debian's nats-server 2.15 (tools/debs.mjs):
 * servers can be SIGKILLed and started again on their own data, and asked who leads what.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { debBinary } from '../debs.mjs';
import { natsClusterConfPath, natsClusterServers } from '../nats-config.ts';
import { freePort, tempDir, waitFor } from './support.ts';

export interface ClusterServer {
  name: string;
  /** nats://127.0.0.1:<port> */
  url: string;
  /** Whether the process runs (not killed, or started again). */
  running(): boolean;
  /** SIGKILL: a crash, the store left as it was. */
  kill(): Promise<void>;
  /** Starts it again on the same store and ports. */
  start(): void;
  /** What it printed, for a failing test's message. */
  log(): string;
}

export interface NatsCluster {
  servers: ClusterServer[];
  /** Every server's client URL, comma-separated (what NATS_URL gets). */
  urls: string;
  /** The server named so. */
  server(name: string): ClusterServer;
  /** The JetStream meta leader's server name, as a running server sees it. */
  metaLeader(): Promise<string>;
  /** Waits until every running server answers /healthz (JetStream current with the meta leader) and a meta leader exists. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the servers and waits until the cluster has formed. `passwords` holds the role passwords
 * (`{ courses: '…', operator: '…' }`), handed to the servers as NATS_<ROLE>_PASSWORD like docker-compose.yml does.
 */
export async function natsCluster(passwords: Record<string, string>): Promise<NatsCluster> {
  const bin = debBinary('nats-server');
  const dir = tempDir();
  const clusterPassword = 'route-pass';
  const ports = await Promise.all(natsClusterServers.map(async () => ({ client: await freePort(), cluster: await freePort(), monitor: await freePort() })));
  const roleEnv = Object.fromEntries(Object.entries(passwords).map(([role, p]) => [`NATS_${role.toUpperCase()}_PASSWORD`, p]));
  const routeEnv = Object.fromEntries(ports.map((p, i) => [`NATS_ROUTE_${i + 1}`, `nats-route://route:${clusterPassword}@127.0.0.1:${p.cluster}`]));
  const template = fs.readFileSync(natsClusterConfPath, 'utf8');

  const servers = natsClusterServers.map((name, i): ClusterServer & { monitor: number } => {
    const p = ports[i] ?? { client: 0, cluster: 0, monitor: 0 };
    const conf = path.join(dir.dir, `${name}.conf`);
    // Only the store moves: the rest is the committed file, ports and the cluster listener from the command line.
    fs.writeFileSync(conf, template.replace('"/data"', JSON.stringify(path.join(dir.dir, name))));
    let proc: ChildProcess | undefined;
    let out = '';
    const s = {
      name,
      url: `nats://127.0.0.1:${p.client}`,
      monitor: p.monitor,
      running: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
      start() {
        proc = spawn(bin.path, ['-c', conf, '-p', String(p.client), '-m', String(p.monitor), '--cluster', `nats://127.0.0.1:${p.cluster}`], {
          env: { ...process.env, ...bin.env, ...roleEnv, ...routeEnv, NATS_CLUSTER_PASSWORD: clusterPassword, NATS_SERVER_NAME: name },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
      },
      async kill() {
        const running = proc;
        if (!running || !s.running()) return;
        const exited = new Promise((r) => running.once('exit', r));
        running.kill('SIGKILL');
        await exited;
      },
      log: () => out,
    };
    return s;
  });
  for (const s of servers) s.start();

  const jsz = async (monitor: number) => (await (await fetch(`http://127.0.0.1:${monitor}/jsz`, { signal: AbortSignal.timeout(2_000) })).json()) as JszInfo;
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url).join(','),
    server: (name) => {
      const s = servers.find((x) => x.name === name);
      if (!s) throw new Error(`no NATS server ${name}`);
      return s;
    },
    async metaLeader() {
      for (const s of servers.filter((x) => x.running())) {
        const leader = (await jsz(s.monitor).catch(() => undefined))?.meta_cluster?.leader;
        if (leader) return leader;
      }
      throw new Error('no JetStream meta leader');
    },
    async healthy(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          for (const s of servers.filter((x) => x.running())) {
            const r = await fetch(`http://127.0.0.1:${s.monitor}/healthz`, { signal: AbortSignal.timeout(2_000) });
            if (!r.ok) return false;
          }
          return Boolean(await cluster.metaLeader());
        },
        timeoutMs,
        100,
      ).catch((err: unknown) => {
        throw new Error(`the NATS cluster is not healthy (${String(err)}):\n${servers.map((s) => `${s.name}: ${s.log().slice(-1500)}`).join('\n')}`);
      });
    },
    async stop() {
      for (const s of servers) await s.kill();
      dir.remove();
    },
  };
  await cluster.healthy();
  return cluster;
}

interface JszInfo {
  meta_cluster?: { leader?: string };
}

/**
 * docker-compose.yml cannot run here (no Docker engine): check it statically against the code,
 * so a renamed service, a missing env var or a broken dependency fails CI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { natsClusterServers, natsRoles } from '../nats-config.ts';
import { SERVICES } from '../services.ts';
import { defined } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
const services = compose.services as Record<string, any>;
const lmsNodes = Object.entries(services).filter(([, s]) => Array.isArray(s.command) && s.command[0] === 'node');
const natsServers = natsClusterServers.map((name) => defined(services[name], `compose service ${name}`));

/** `nats:2.15.1-alpine` → [2, 15, 1]. */
const versionOf = (image: string) => (/^nats:(\d+)\.(\d+)\.(\d+)/.exec(image) ?? []).slice(1).map(Number);
const atLeast = (v: number[], min: number[]) => {
  for (const [i, m] of min.entries()) if ((v[i] ?? -1) !== m) return (v[i] ?? -1) > m;
  return true;
};

describe('docker-compose.yml', () => {
  it('runs the infrastructure mesh mode needs', () => {
    expect(fs.readFileSync(path.join(root, 'infra/nats/nats.conf'), 'utf8')).toMatch(/jetstream \{/);
    expect(services.postgres.image).toMatch(/pgvector/);
    expect(services.redis.image).toMatch(/redis/);
  });

  it('runs a 3-server NATS cluster at 2.12.3 or later, JetStream fsynced, streams replicated 3 times', () => {
    const conf = fs.readFileSync(path.join(root, 'infra/nats/cluster.conf'), 'utf8');
    expect(conf).toMatch(/jetstream \{[^}]*sync_interval: always/);
    expect(conf).toMatch(/cluster \{[\s\S]*?routes: \[ \$NATS_ROUTE_1, \$NATS_ROUTE_2, \$NATS_ROUTE_3 \]/);
    const names = new Set<string>();
    for (const [i, s] of natsServers.entries()) {
      expect(atLeast(versionOf(s.image), [2, 12, 3]), `${natsClusterServers[i]} image ${s.image}`).toBe(true);
      expect(s.command).toEqual(['-c', '/etc/nats/cluster.conf']);
      expect(s.volumes).toContain('./infra/nats/cluster.conf:/etc/nats/cluster.conf:ro');
      expect(s.healthcheck.test.join(' ')).toContain('/healthz');
      names.add(s.environment.NATS_SERVER_NAME);
      // Routes to every server, authenticated with the cluster's password.
      for (const [j, peer] of natsClusterServers.entries()) {
        expect(s.environment[`NATS_ROUTE_${j + 1}`]).toBe(`nats-route://route:\${NATS_CLUSTER_PASSWORD}@${peer}:6222`);
      }
      expect(s.environment.NATS_CLUSTER_PASSWORD).toMatch(/^\$\{NATS_CLUSTER_PASSWORD:\?/);
    }
    expect([...names].sort()).toEqual(natsClusterServers);
    // A data volume each: three copies of every stream on three disks.
    expect(new Set(natsServers.map((s) => String(s.volumes[0]).split(':')[0])).size).toBe(3);
    for (const [name, s] of lmsNodes) {
      expect(String(s.environment.NATS_URL).split(','), `${name} NATS_URL`).toEqual(natsClusterServers.map((n) => `nats://${n}:4222`));
      expect(s.environment.LMS_STREAM_REPLICAS, `${name} LMS_STREAM_REPLICAS`).toBe('3');
      expect(Number(s.environment.LMS_STREAM_MAX_BYTES), `${name} LMS_STREAM_MAX_BYTES`).toBeGreaterThan(0);
      for (const n of natsClusterServers) expect(s.depends_on[n]?.condition, `${name} waits for ${n}`).toBe('service_healthy');
    }
  });

  it('runs every service of the codebase on some node, and only known ones', () => {
    const deployed = lmsNodes.flatMap(([, s]) => String(s.command[2]).split(','));
    expect(deployed.sort()).toEqual(Object.keys(SERVICES).sort());
  });

  it('gives every LMS node the mesh settings and waits for migrations', () => {
    for (const [name, s] of lmsNodes) {
      expect(s.command.slice(0, 2), name).toEqual(['node', '--services']);
      expect(s.environment.LMS_MODE, name).toBe('mesh');
      for (const v of ['DATABASE_URL', 'NATS_URL', 'REDIS_URL']) expect(s.environment[v], `${name} ${v}`).toBeTruthy();
      expect(s.depends_on.migrate.condition, name).toBe('service_completed_successfully');
      expect(s.build.dockerfile, name).toBe('infra/Dockerfile');
    }
    expect(services.migrate.command).toEqual(['migrate']);
  });

  it('requires the data key of every service that seals secrets (no key kept beside what it seals in production)', () => {
    for (const [name, s] of lmsNodes) {
      for (const svc of String(s.command[2]).split(',')) {
        const declared = Object.keys(SERVICES[svc]?.env?.shape ?? {}).filter((v) => v.endsWith('_DATA_KEY'));
        for (const v of declared) expect(String(s.environment[v]), `${name} ${v}`).toMatch(new RegExp(`^\\$\\{${v}:\\?`));
      }
    }
    expect(String(services.credentials.environment.CREDENTIALS_DATA_KEY)).toMatch(/^\$\{CREDENTIALS_DATA_KEY:\?/);
  });

  it('joins every node to NATS as its own role, with that role’s password', () => {
    const conf = fs.readFileSync(path.join(root, 'infra/nats/nats.conf'), 'utf8');
    const roles = new Map([...conf.matchAll(/\{ user: (\w+), password: \$(\w+)/g)].map((m) => [defined(m[1]), defined(m[2])]));
    const seen = new Set<string>();
    for (const [name, s] of lmsNodes) {
      const user = s.environment.NATS_USER as string;
      expect(roles.has(user), `${name} NATS_USER ${user}`).toBe(true);
      expect(s.environment.NATS_PASSWORD, name).toBe(`\${${roles.get(user)}}`);
      for (const [i, n] of natsServers.entries())
        expect(n.environment[defined(roles.get(user))], `${natsClusterServers[i]} gets ${roles.get(user)}`).toBeTruthy();
      expect(seen.has(user), `${user} shared by two node kinds`).toBe(false);
      seen.add(user);
    }
  });

  it('puts two or more gateways behind HAProxy, which routes on /health/serving, and gives every node time to stop gracefully', () => {
    expect(services.haproxy.ports).toContain('3000:3000');
    expect(services.gateway.ports ?? [], 'clients reach the gateways through HAProxy only').toEqual([]);
    expect(services.gateway.deploy.replicas).toBeGreaterThanOrEqual(2);
    const mount = (services.haproxy.volumes as string[]).find((v) => v.startsWith('./infra/haproxy/haproxy.cfg:'));
    expect(mount).toBe('./infra/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    const cfg = fs.readFileSync(path.join(root, 'infra/haproxy/haproxy.cfg'), 'utf8');
    expect(cfg).toMatch(/^ {4}bind :3000$/m);
    expect(cfg).toMatch(/^ {4}option httpchk GET \/health\/serving$/m);
    // The gateways' replicas by Docker's DNS name, on the port they listen on.
    expect(cfg).toMatch(new RegExp(`^ {4}server-template gateway \\d+ gateway:${services.gateway.environment.PORT} `, 'm'));
    // HAProxy needs at most `inter` + `fall` × `fastinter` to take a gateway out; the gateway must serve on longer.
    const ms = (v: string) => (v.endsWith('ms') ? Number(v.slice(0, -2)) : Number(v.replace(/s$/, '')) * 1000);
    const check = defined(/default-server .*inter (\S+) fastinter (\S+) .*fall (\d+)/.exec(cfg), 'the check timings');
    const takeOut = ms(defined(check[1])) + Number(check[3]) * ms(defined(check[2]));
    expect(Number(services.gateway.environment.SHUTDOWN_GRACE_MS)).toBeGreaterThan(takeOut);
    for (const [name, s] of lmsNodes) {
      // The CLI gives up after SHUTDOWN_GRACE_MS + 2 × MOLECULER_SHUTDOWN_TIMEOUT + 10 s; Docker must not SIGKILL first.
      const grace = Number(s.environment.SHUTDOWN_GRACE_MS ?? 0) + 2 * Number(s.environment.MOLECULER_SHUTDOWN_TIMEOUT ?? 5000) + 10_000;
      expect(ms(String(s.stop_grace_period ?? '10s')), `${name} stop_grace_period`).toBeGreaterThanOrEqual(grace);
    }
  });

  it('runs each node as the NATS role whose permissions cover exactly its services, with an id of that role', () => {
    for (const [name, s] of lmsNodes) {
      const user = s.environment.NATS_USER as string;
      expect(natsRoles[user]?.services.slice().sort(), `${name} as ${user}`).toEqual(String(s.command[2]).split(',').sort());
      if (s.environment.NODE_ID) expect(String(s.environment.NODE_ID).startsWith(`${user}.`), `${name} NODE_ID`).toBe(true);
    }
  });

  it('scrapes metrics from every LMS node on METRICS_PORT, which no container publishes, and not from the API port', () => {
    const prom = parse(fs.readFileSync(path.join(root, 'infra/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    };
    const scraped = new Map<string, number>();
    for (const job of prom.scrape_configs) {
      for (const sd of job.dns_sd_configs ?? []) for (const n of sd.names) scraped.set(n, sd.port);
      for (const st of job.static_configs ?? []) for (const t of st.targets) scraped.set(defined(t.split(':')[0]), Number(t.split(':')[1]));
    }
    for (const [name, s] of lmsNodes) {
      const port = Number(s.environment.METRICS_PORT);
      expect(port, `${name} METRICS_PORT`).toBeGreaterThan(0);
      expect(port, name).not.toBe(Number(s.environment.PORT ?? 3000));
      expect(scraped.get(name), `prometheus scrapes ${name}`).toBe(port);
      expect(
        (s.ports ?? []).some((p: string) => String(p).endsWith(`:${port}`)),
        `${name} publishes ${port}`,
      ).toBe(false);
    }
    expect([...scraped.keys()].sort()).toEqual(lmsNodes.map(([n]) => n).sort());
  });

  it('points at files that exist, with healthchecks on what others wait for', () => {
    expect(fs.existsSync(path.join(root, 'infra/Dockerfile'))).toBe(true);
    const dockerfile = fs.readFileSync(path.join(root, 'infra/Dockerfile'), 'utf8');
    // The image runs the build output, built in the image from the sources it copied.
    expect(dockerfile).toMatch(/RUN node tools\/build\.mjs/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/cli\.mjs"\]/);
    // Every workspace package's manifest is copied before the install, or its dependencies are never installed.
    for (const dir of fs.readdirSync(path.join(root, 'services'))) {
      expect(dockerfile, `infra/Dockerfile copies services/${dir}/package.json`).toContain(`COPY services/${dir}/package.json services/${dir}/`);
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, cond] of Object.entries((s.depends_on ?? {}) as Record<string, { condition: string }>)) {
        expect(services[dep], `${name} depends on ${dep}`).toBeTruthy();
        if (cond.condition === 'service_healthy') expect(services[dep].healthcheck, `${dep} healthcheck`).toBeTruthy();
      }
      for (const v of s.volumes ?? []) {
        const src = defined(String(v).split(':')[0]);
        if (src.startsWith('./')) expect(fs.existsSync(path.join(root, src)), src).toBe(true);
        else expect(compose.volumes).toHaveProperty(src);
      }
    }
  });
});

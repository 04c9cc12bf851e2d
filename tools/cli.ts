#!/usr/bin/env node
/**
 * lms: start (embedded), node (mesh), repl, migrate, openapi, events.
 * Run through `pnpm lms <command>` or the package scripts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { brokerOptions, guardProcess, migrateAll, openDatabase, runtimeSettings, startNode, type LmsNode } from '@lms/runtime';
import { ServiceBroker } from 'moleculer';
import { ReplIdentity, replCredentials } from './repl.ts';
import { embeddedServiceNames, loadServices, SERVICE_LOADERS } from './service-loaders.ts';

const USAGE = `usage: lms <command>
  start                         embedded mode: every service in one process, PGlite in LMS_DATA_DIR
  node --services a,b[,...]     mesh mode: join the NATS mesh with these services (or "all")
  repl                          join the mesh as a REPL node, signed in as a person (LMS_REPL_EMAIL, LMS_REPL_PASSWORD,
                                LMS_REPL_TOTP, or asked): every call carries their token and is audited as them
  migrate [--down]              run every service's migrations (DATABASE_URL, or PGlite in LMS_DATA_DIR)
  openapi [--out FILE]          write the OpenAPI document (default clients/openapi.json) and its types (.d.ts beside it)
  nats-config [--out FILE] [--namespace NS]   write the NATS permissions per node role (default infra/nats/nats.conf, lms) and cluster.conf beside it
  config [--services a,b] [--readme]   print the effective configuration (secrets masked), or regenerate README's table
  events <service> consumers|dead-letters|replay|rebuild [--consumer C] [--id N]
  search reindex                rebuild the search index into shadow tables (the live one keeps serving), then swap
  seed [--courses N] [--lessons N] [--learners N] [--per-learner N]   seed a catalogue at scale (DATABASE_URL)
  backup [--out FILE]           back up: every service schema and the events in flight (mesh, DATABASE_URL), or the
                                embedded database (from the running lms start when there is one)
  restore FILE [--force]        restore a backup (stop every node first; --force: even with other database sessions)
services: ${Object.keys(SERVICE_LOADERS).join(', ')}`;

/**
 * SIGTERM (an orchestrator's stop) and SIGINT (Ctrl-C) stop the node gracefully (`node.stop()`: not ready at once, the
 * requests and units of work in hand finished, then out of the mesh) and exit 0. A second signal, or a stop that
 * outlives `deadlineMs` (the node's drain and grace, plus a margin), exits 1 at once: a stop never hangs.
 */
function onSignals(node: LmsNode) {
  const e = node.runtime.config.envValues;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);
  const deadlineMs = num(e.SHUTDOWN_GRACE_MS, 0) + 2 * num(e.MOLECULER_SHUTDOWN_TIMEOUT, 5_000) + 10_000;
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) process.exit(1);
      stopping = true;
      setTimeout(() => {
        console.error(`the node did not stop within ${deadlineMs} ms; exiting`);
        process.exit(1);
      }, deadlineMs).unref();
      node.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(`stop failed: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
    });
  }
}

/** `lms backup [--out FILE]` and `lms restore FILE`: mesh when DATABASE_URL is set, else the embedded data directory. */
async function backupCommand(cmd: 'backup' | 'restore', file: string | undefined, force: boolean) {
  const backup = await import('./backup.ts');
  const config = runtimeSettings();
  const started = Date.now();
  const progress = (line: string) => console.log(line);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (config.databaseUrl) {
    const target = {
      databaseUrl: config.databaseUrl,
      natsUrl: config.natsUrl,
      natsUser: config.natsUser,
      natsPassword: config.natsPassword,
      namespace: config.namespace,
      // Restored streams get the installation's replicas and retention (LMS_STREAM_*), as a node would create them.
      streams: config.streams,
      modules: await loadServices('all'),
    };
    if (cmd === 'backup') {
      const r = await backup.backupMesh(target, path.resolve(file ?? `lms-backup-${stamp}.jsonl.gz`), progress);
      console.log(`backed up ${r.schemas} schemas, ${r.tables} tables, ${r.rows} rows and ${r.events} events in ${Date.now() - started} ms`);
    } else {
      if (!file) throw new Error('restore needs the backup file: lms restore FILE');
      const r = await backup.restoreMesh(target, path.resolve(file), progress, force);
      console.log(`restored ${r.schemas} schemas, ${r.rows} rows and ${r.events} events in ${Date.now() - started} ms: start the nodes`);
    }
    return;
  }
  if (cmd === 'backup') {
    const r = await backup.backupEmbedded(config.dataDir, path.resolve(file ?? `lms-backup-${stamp}.tar.gz`), progress);
    console.log(`backed up the embedded database (${r.online ? 'online' : 'offline'}) in ${Date.now() - started} ms`);
  } else {
    if (!file) throw new Error('restore needs the backup file: lms restore FILE');
    await backup.restoreEmbedded(config.dataDir, path.resolve(file), progress);
    console.log(`restored in ${Date.now() - started} ms: start the LMS`);
  }
}

async function main(argv: string[]) {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      services: { type: 'string' },
      out: { type: 'string' },
      down: { type: 'boolean' },
      readme: { type: 'boolean' },
      force: { type: 'boolean' },
      consumer: { type: 'string' },
      id: { type: 'string' },
      namespace: { type: 'string' },
      courses: { type: 'string' },
      lessons: { type: 'string' },
      learners: { type: 'string' },
      'per-learner': { type: 'string' },
    },
  });
  switch (cmd) {
    case 'start': {
      const node = await startNode(await loadServices(embeddedServiceNames(process.env)), { mode: 'embedded' });
      guardProcess(node.runtime.logger('process'));
      // `lms backup` asks this process for its database while it runs (PGlite has one connection: no one else may open it).
      // Without it the LMS still serves (a read-only directory): backups then need it stopped.
      const { serveBackups } = await import('./backup.ts');
      const backupLog = node.runtime.logger('backup');
      await serveBackups(node.runtime.config.dataDir, node.runtime.db, backupLog).catch((err: unknown) =>
        backupLog.warn(`online backups are off (${err instanceof Error ? err.message : String(err)}): stop the LMS to back it up`),
      );
      onSignals(node);
      const { gatewayPort } = await import('@lms/gateway');
      const port = gatewayPort(node.broker);
      console.log(`LMS (embedded) on http://localhost:${port}  ·  API docs http://localhost:${port}/docs  ·  data in ${node.runtime.config.dataDir}`);
      return;
    }
    case 'node': {
      if (!values.services) throw new Error('node needs --services');
      // Only the services this node runs are loaded (and their libraries).
      const node = await startNode(await loadServices(values.services), { mode: 'mesh' });
      guardProcess(node.runtime.logger('process'));
      onSignals(node);
      if (values.services.includes('gateway') || values.services === 'all')
        console.log(`gateway on port ${(await import('@lms/gateway')).gatewayPort(node.broker)}`);
      return;
    }
    case 'repl': {
      const identity = new ReplIdentity();
      const options = brokerOptions(runtimeSettings({ mode: 'mesh' }));
      const broker = new ServiceBroker({ ...options, nodeID: `repl-${process.pid}`, middlewares: [...(options.middlewares ?? []), identity.middleware()] });
      await broker.start();
      try {
        await broker.waitForServices(['auth'], 15_000);
        const user = await identity.signIn(await replCredentials());
        console.log(`Signed in as ${user.email} (${user.roles.join(', ')}): every call carries this identity and is audited.`);
      } catch (err) {
        await broker.stop();
        throw err;
      }
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void identity.signOut().finally(() => process.exit(0)));
      broker.repl(); // starts the prompt and returns (moleculer-repl is synchronous)
      return;
    }
    case 'migrate': {
      const config = runtimeSettings();
      const db = await openDatabase(config);
      const started = Date.now();
      try {
        await migrateAll(db, await loadServices('all'), (m) => console.log(m), values.down ? 'down' : 'latest');
        console.log(`done in ${Date.now() - started} ms (${db.kind})`);
      } finally {
        await db.close();
      }
      return;
    }
    case 'openapi': {
      const out = path.resolve(values.out ?? path.join(import.meta.dirname, '../clients/openapi.json'));
      const { buildOpenApi } = await import('@lms/gateway');
      const doc = buildOpenApi();
      fs.writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
      console.log(`wrote ${out}`);
      // Beside it, the types openapi-typescript generates from it (what a third-party client codes against).
      const types = out.replace(/\.json$/, '.d.ts');
      // Loaded here only: openapi-typescript brings the TypeScript compiler (~80 MB, seconds to load).
      const { openApiTypes } = await import('./openapi-types.ts');
      fs.writeFileSync(types, await openApiTypes(doc));
      console.log(`wrote ${types}`);
      return;
    }
    case 'config': {
      const { effectiveConfig, withEnvTable } = await import('./env-docs.ts');
      if (values.readme) {
        const file = path.resolve(import.meta.dirname, '..', 'README.md');
        fs.writeFileSync(file, withEnvTable(fs.readFileSync(file, 'utf8')));
        console.log(`wrote the environment table into ${file}`);
        return;
      }
      const names = values.services ? (await loadServices(values.services)).map((s) => s.name) : Object.keys(SERVICE_LOADERS);
      console.log(effectiveConfig(names));
      return;
    }
    case 'nats-config': {
      const { writeNatsConf, natsConfPath } = await import('./nats-config.ts');
      console.log(`wrote ${writeNatsConf(path.resolve(values.out ?? natsConfPath), values.namespace).join(' and ')}`);
      return;
    }
    case 'events': {
      const [service, op] = positionals;
      if (!service || !op) throw new Error(USAGE);
      const broker = new ServiceBroker({ ...brokerOptions(runtimeSettings({ mode: 'mesh', logLevel: 'warn' })), nodeID: `cli-${process.pid}` });
      await broker.start();
      try {
        await broker.waitForServices([service], 10_000);
        const action = { consumers: 'events.consumers', 'dead-letters': 'events.deadLetters', replay: 'events.replay', rebuild: 'events.rebuild' }[op];
        if (!action) throw new Error(USAGE);
        const res = await broker.call(`${service}.${action}`, { consumer: values.consumer, id: values.id ? Number(values.id) : undefined });
        console.log(JSON.stringify(res, null, 2));
      } finally {
        await broker.stop();
      }
      return;
    }
    case 'search': {
      if (positionals[0] !== 'reindex') throw new Error(USAGE);
      const { searchInternal } = await import('@lms/contracts');
      const broker = new ServiceBroker({ ...brokerOptions(runtimeSettings({ mode: 'mesh', logLevel: 'warn' })), nodeID: `cli-${process.pid}` });
      await broker.start();
      // A bar on stderr from the rebuild's progress (courses done of those the index knows), polled while it runs.
      const bar = setInterval(() => {
        broker
          .call<{ running: boolean; done: number; total: number }, Record<string, never>>(searchInternal.reindexStatus.action, {})
          .then((p) => {
            if (!p.running || p.total === 0) return;
            const width = 30;
            const full = Math.round((p.done / p.total) * width);
            process.stderr.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${p.done}/${p.total} courses`);
          })
          .catch(() => undefined);
      }, 250);
      try {
        await broker.waitForServices(['search'], 10_000);
        const res = await broker.call(searchInternal.reindex.action, {}, { timeout: 0 });
        process.stderr.write('\n');
        console.log(JSON.stringify(res, null, 2));
      } finally {
        clearInterval(bar);
        await broker.stop();
      }
      return;
    }
    case 'seed': {
      const url = runtimeSettings().databaseUrl;
      if (!url) throw new Error('seed writes straight into PostgreSQL: set DATABASE_URL (and run pnpm migrate first)');
      const { seed } = await import('./seed.ts');
      const started = Date.now();
      const r = await seed(url, {
        courses: Number(values.courses ?? 1000),
        lessonsPerCourse: Number(values.lessons ?? 50),
        learners: Number(values.learners ?? 10_000),
        enrollmentsPerLearner: Number(values['per-learner'] ?? 3),
      });
      console.log(`seeded ${r.courseIds.length} courses in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    case 'backup':
    case 'restore': {
      await backupCommand(cmd, values.out ?? positionals[0], values.force ?? false);
      return;
    }
    default:
      console.error(USAGE);
      process.exit(cmd ? 2 : 0);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

/**
 * Real processes for the fault tests and the fault bench: a PostgreSQL server of the test's own (so that it can be
 * stopped, killed and started again without touching the machine's), and LMS nodes as OS processes (so that they can
 * be SIGKILLed or SIGTERMed like a production node).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './support.ts';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const ROOT = path.resolve(import.meta.dirname, '../..');

/** PostgreSQL refuses to run as root: the server and its tools run as the `postgres` user when we are root. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server: `fast` ends sessions cleanly, `immediate` is a crash (recovery on the next start). */
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  /** Terminates every backend but the caller's (what `pg_terminate_backend` does to the LMS's connections). */
  terminateBackends(): void;
  /** Stops the server and removes its data directory. */
  remove(): void;
}

/**
 * A PostgreSQL 15 server of its own: `initdb` into a temporary directory (trust auth, fsync off: a test server),
 * listening on a free port on 127.0.0.1. About 2 s to create.
 */
export async function privatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-pg-'));
  const isRoot = process.getuid?.() === 0;
  if (isRoot) execFileSync('chown', ['postgres:postgres', dataDir]);
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asPostgres(path.join(PG_BIN, cmd), args);
    execFileSync(c, a, { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' });
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop: (mode = 'fast') => run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']),
    start: () => run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', path.join(dataDir, 'server.log'), '-w', 'start']),
    terminateBackends: () =>
      run('psql', [
        pg.url,
        '-qAtc',
        'select count(pg_terminate_backend(pid)) from pg_stat_activity where pid <> pg_backend_pid() and backend_type = $$client backend$$',
      ]),
    remove: () => {
      try {
        pg.stop('immediate');
      } catch {
        // already stopped
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}

export interface LmsProcess {
  proc: ChildProcess;
  /** Everything it printed (stdout and stderr), for a failing test's message. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** SIGKILL (a crash) or SIGTERM (a graceful stop), and waits for the end. */
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * `lms node --services <services>` as an OS process (through tsx, from the sources: no build needed), with the
 * environment given over this process's. Resolves once it printed `started` (or, for a gateway, its port).
 */
export async function lmsProcess(
  services: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
  /** `built`: run dist/cli.mjs, the build output production runs (a third of tsx's start time; build it first). */
  opts: { built?: boolean } = {},
): Promise<LmsProcess> {
  const entry = opts.built ? [path.join(ROOT, 'dist/cli.mjs')] : ['--import', 'tsx', path.join(ROOT, 'tools/cli.ts')];
  const proc = spawn(process.execPath, [...entry, 'node', '--services', services], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind a failed test: nobody else holds its handle.
      proc.kill('SIGKILL');
      reject(new Error(`lms node ${services} did not start in ${timeoutMs} ms:\n${out.slice(-4000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/node \S+ started|gateway on port/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`lms node ${services} exited (${code}) before it started:\n${out.slice(-4000)}`));
    });
  });
  return {
    proc,
    output: () => out,
    exited,
    kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

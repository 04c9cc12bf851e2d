/**
 * `lms backup` / `lms restore`: mesh mode (every service's schema in one PostgreSQL snapshot, and the JetStream events
 * that snapshot still needs) and embedded mode (PGlite's data directory, taken from the running process).
 *
 * Mesh: the database is the source of truth; a stream is only the road from an outbox to its consumers. The backup
 * therefore takes every schema from ONE snapshot (consistent with the outboxes, across services) and, from the streams,
 * exactly the events that snapshot has published and some consumer group had not yet applied (plus the dead letters).
 * A restore loads the schemas, replaces the namespace's streams by new ones holding those events, and records them as
 * processed for every group that had applied them: nodes started afterwards apply each in-flight event once, and
 * republish what the restored outboxes hold.
 *
 * Why the snapshot and the streams agree: an event leaves an outbox only in the relay's transaction that published it
 * (published, then deleted, then committed). The backup takes a SHARE lock on every outbox before its snapshot, which
 * waits for those transactions (and for the ones writing new rows) and keeps new ones out while it reads each stream's
 * last sequence. So an event deleted from an outbox in the snapshot is in a stream at or below that sequence, and
 * nothing at or below it was produced after the snapshot. The lock is held for milliseconds: the dump itself runs
 * in a second transaction that imports the snapshot (`SET TRANSACTION SNAPSHOT`) after the lock is gone. Consumer
 * groups' ack floors are read before the snapshot: what a group acknowledged then, it had committed then.
 *
 * The file is gzipped JSON lines: a header, then tables (rows as the text of each column, which PostgreSQL parses back
 * through the same type's input: what COPY does), sequences, stream messages and processed ids, then a trailer whose
 * absence tells a truncated file.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import zlib from 'node:zlib';
import { JetStreamTransport, openDatabase, runtimeMigrations, type Database, type Logger, type ServiceModule, type StreamLimits } from '@lms/runtime';
import { sql, Kysely, PostgresDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import { connect, DeliverPolicy, headers as natsHeaders, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import pg from 'pg';

export type Progress = (line: string) => void;

export interface MeshTarget {
  databaseUrl: string;
  natsUrl: string;
  natsUser?: string;
  natsPassword?: string;
  namespace: string;
  /** Replicas and retention of the streams a restore recreates (the runtime's defaults when absent). */
  streams?: StreamLimits;
  /** The services whose schemas are backed up or restored (every one with a schema). */
  modules: ServiceModule[];
}

export interface BackupSummary {
  schemas: number;
  tables: number;
  rows: number;
  /** Stream messages kept: events some consumer group had not applied yet, and dead letters. */
  events: number;
  bytes: number;
}

const FORMAT = 'lms-backup';
const VERSION = 1;
const ROWS_PER_LINE = 1_000;
/** A progress line per this many rows of one table (a multiple of ROWS_PER_LINE), besides one per schema. */
const PROGRESS_EVERY = 100_000;
/** How long the backup waits for the outboxes' SHARE lock (a relay stuck on an unreachable NATS holds it off). */
const LOCK_TIMEOUT = '15s';

interface Header {
  format: typeof FORMAT;
  version: number;
  mode: 'mesh';
  createdAt: string;
  namespace: string;
  /** Each schema with the migrations it had: a restore rebuilds it to exactly that point before loading rows. */
  schemas: Array<{ schema: string; service: string; migrations: string[] }>;
}
interface Column {
  name: string;
  type: string;
}
type Line =
  | ({ t: 'header' } & Header)
  | { t: 'table'; schema: string; table: string; columns: Column[]; identity: boolean }
  | { t: 'rows'; schema: string; table: string; rows: Array<Array<string | null>> }
  | { t: 'sequence'; schema: string; name: string; value: string; called: boolean }
  | { t: 'stream'; name: string; messages: StreamMessage[] }
  | { t: 'processed'; schema: string; consumer: string; ids: string[] }
  | { t: 'end'; summary: Omit<BackupSummary, 'bytes'> };
/** A stream message as it was published: the wire subject without the namespace, so a restore can take another one. */
interface StreamMessage {
  subject: string;
  /** Base64 of the body. */
  data: string;
  headers: Array<[string, string]>;
}

/** Schemas are identifiers we interpolate: only the plain names migrate.ts also accepts. */
function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

const withSchema = (modules: ServiceModule[]) => modules.filter((m) => m.schema);

/** A gzipped JSON-lines writer that respects back-pressure. */
function lineWriter(file: string) {
  const gzip = zlib.createGzip();
  const out = fs.createWriteStream(file, { mode: 0o600 });
  const done = pipeline(gzip, out);
  return {
    async write(line: Line) {
      // A failed file (a full disk) rejects `done`: waiting for a drain that never comes would hang the backup.
      if (!gzip.write(`${JSON.stringify(line)}\n`)) await Promise.race([new Promise<void>((resolve) => gzip.once('drain', resolve)), done]);
    },
    async close() {
      gzip.end();
      await done;
    },
  };
}

/**
 * The file's lines, pulled as they are consumed (a stream's own iterator: nothing is read ahead of the restore, however
 * long its migrations take). A line spans many chunks (a thousand rows): its pieces are joined once, at its newline.
 */
async function* readLines(file: string): AsyncGenerator<Line, void> {
  const input = fs.createReadStream(file).pipe(zlib.createGunzip()).setEncoding('utf8');
  let pending: string[] = [];
  for await (const chunk of input as AsyncIterable<string>) {
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
      pending.push(chunk.slice(from, nl));
      const line = pending.join('');
      pending = [];
      from = nl + 1;
      if (line) yield JSON.parse(line) as Line;
    }
    if (from < chunk.length) pending.push(chunk.slice(from));
  }
  const last = pending.join('');
  if (last) yield JSON.parse(last) as Line;
}

/** Durable consumers of one stream, with what each had acknowledged: `<group>__<subject>` (events/jetstream.ts). */
interface Durable {
  group: string;
  filter: string;
  ackFloor: number;
}

async function durablesOf(jsm: JetStreamManager, stream: string): Promise<Durable[]> {
  const out: Durable[] = [];
  for (const c of await jsm.consumers.list(stream).next()) {
    // Ephemeral consumers (a `nats` CLI subscriber, another backup's reader) are nobody's projection.
    if (!c.config.durable_name) continue;
    out.push({ group: c.name.split('__')[0] ?? c.name, filter: c.config.filter_subject ?? '>', ackFloor: c.ack_floor.stream_seq });
  }
  return out;
}

/** NATS subject matching with `*` and `>` (durables filter on one subject, but a wildcard costs nothing to honour). */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Messages of `stream` with sequence in (from, to], read by an ordered consumer (no durable state left behind). */
async function* messagesOf(nc: NatsConnection, stream: string, from: number, to: number): AsyncGenerator<JsMsg> {
  if (to <= from) return;
  const js = nc.jetstream();
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 });
  for (;;) {
    let got = 0;
    for await (const m of await consumer.fetch({ max_messages: 500, expires: 2_000 })) {
      got++;
      if (m.seq > to) return;
      yield m;
      if (m.seq === to) return;
    }
    if (got === 0) return; // the rest was deleted (retention, a dead letter replayed)
  }
}

function stripNamespace(subject: string, ns: string): string {
  return subject.startsWith(`${ns}.`) ? `lms.${subject.slice(ns.length + 1)}` : subject;
}

/**
 * Backs up a mesh install to `file`: one PostgreSQL snapshot of every service schema, and the events it needs.
 * Runs while the mesh serves (writers wait only while the snapshot is taken).
 */
export async function backupMesh(target: MeshTarget, file: string, progress: Progress = () => {}): Promise<BackupSummary> {
  const modules = withSchema(target.modules);
  const nc = await connect({ servers: target.natsUrl, user: target.natsUser, pass: target.natsPassword, name: 'lms-backup' });
  const locker = new pg.Client({ connectionString: target.databaseUrl, application_name: 'lms-backup' });
  const reader = new pg.Client({ connectionString: target.databaseUrl, application_name: 'lms-backup' });
  const writer = lineWriter(file);
  const summary = { schemas: 0, tables: 0, rows: 0, events: 0 };
  try {
    const jsm = await nc.jetstreamManager();
    const prefix = `${target.namespace.toUpperCase()}_`;
    const streams = (await jsm.streams.names().next()).filter((s) => s.startsWith(prefix));
    const durables = new Map<string, Durable[]>();
    for (const s of streams) durables.set(s, await durablesOf(jsm, s));

    // A connection the server ends fails the query in progress; without a listener it would also end the process.
    for (const c of [locker, reader]) c.on('error', () => {});
    await locker.connect();
    await reader.connect();
    const present = new Set(
      (await locker.query<{ s: string }>(`select table_schema as s from information_schema.tables where table_name = 'outbox'`)).rows.map((r) => r.s),
    );
    const outboxes = modules.filter((m) => present.has(m.schema)).map((m) => `${ident(m.schema)}.outbox`);
    await locker.query('begin isolation level repeatable read');
    await locker.query(`set local lock_timeout = '${LOCK_TIMEOUT}'`);
    if (outboxes.length) {
      await locker.query(`lock table ${outboxes.join(', ')} in share mode`).catch((err: unknown) => {
        throw new Error(
          `could not lock the outboxes within ${LOCK_TIMEOUT} (${err instanceof Error ? err.message : String(err)}): a relay may be stuck publishing to an unreachable NATS; try again once NATS answers`,
        );
      });
    }
    const snapshot = (await locker.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0]?.id;
    const lastSeq = new Map<string, number>();
    for (const s of streams) lastSeq.set(s, (await jsm.streams.info(s)).state.last_seq);
    await reader.query('begin isolation level repeatable read read only');
    await reader.query(`set transaction snapshot '${snapshot ?? ''}'`);
    await locker.query('commit');
    progress(`snapshot taken; streams at ${[...lastSeq].map(([s, n]) => `${s}#${n}`).join(', ') || '(none)'}`);

    const schemas: Header['schemas'] = [];
    for (const m of modules) {
      const exists = (await reader.query(`select 1 from information_schema.tables where table_schema = $1 and table_name = 'kysely_migration'`, [m.schema]))
        .rowCount;
      if (!exists) continue;
      const migrations = (await reader.query<{ name: string }>(`select name from ${ident(m.schema)}.kysely_migration order by name`)).rows.map((r) => r.name);
      schemas.push({ schema: m.schema, service: m.name, migrations });
    }
    await writer.write({
      t: 'header',
      format: FORMAT,
      version: VERSION,
      mode: 'mesh',
      createdAt: new Date().toISOString(),
      namespace: target.namespace,
      schemas,
    });

    for (const [i, { schema }] of schemas.entries()) {
      const tables = await tablesInLoadOrder(reader, schema);
      let rows = 0;
      for (const table of tables) rows += await dumpTable(reader, schema, table, writer, progress);
      for (const s of (await reader.query<{ name: string }>(`select sequencename as name from pg_sequences where schemaname = $1`, [schema])).rows) {
        const v = (await reader.query<{ last_value: string; is_called: boolean }>(`select last_value::text, is_called from ${ident(schema)}.${ident(s.name)}`))
          .rows[0];
        if (v) await writer.write({ t: 'sequence', schema, name: s.name, value: v.last_value, called: v.is_called });
      }
      summary.schemas++;
      summary.tables += tables.length;
      summary.rows += rows;
      progress(`[${i + 1}/${schemas.length}] ${schema}: ${tables.length} tables, ${rows} rows`);
    }

    const groupSchema = (group: string) => modules.find((m) => group.startsWith(`${m.name}-`))?.schema;
    for (const s of streams) {
      const last = lastSeq.get(s) ?? 0;
      const name = s.slice(prefix.length);
      const owners = durables.get(s) ?? [];
      const dlq = s === `${prefix}DLQ`;
      // A stream nobody consumes needs nothing back; below every group's ack floor, everything was applied.
      const from = dlq ? 0 : owners.length ? Math.min(...owners.map((d) => d.ackFloor)) : last;
      let kept = 0;
      for await (const chunk of chunksOf(nc, s, from, last)) {
        const part = dlq ? { messages: chunk, processed: new Map<string, string[]>() } : await inFlight(reader, chunk, owners, groupSchema);
        if (part.messages.length) await writer.write({ t: 'stream', name, messages: part.messages.map((m) => toStored(m, target.namespace)) });
        for (const [key, ids] of part.processed) {
          const [schema = '', consumer = ''] = key.split('\u0000');
          await writer.write({ t: 'processed', schema, consumer, ids });
        }
        kept += part.messages.length;
      }
      summary.events += kept;
      progress(dlq ? `${s}: ${kept} dead letters` : `${s}: ${kept} events not yet applied by every consumer group`);
    }
    await reader.query('commit');
    await writer.write({ t: 'end', summary });
    await writer.close();
    const bytes = fs.statSync(file).size;
    progress(`wrote ${file} (${(bytes / 1024).toFixed(0)} KiB)`);
    return { ...summary, bytes };
  } catch (err) {
    await writer.close().catch(() => {});
    fs.rmSync(file, { force: true });
    throw err;
  } finally {
    await locker.end().catch(() => {});
    await reader.end().catch(() => {});
    await nc.close();
  }
}

function toStored(m: JsMsg, ns: string): StreamMessage {
  const headers: Array<[string, string]> = [];
  for (const k of m.headers?.keys() ?? []) for (const v of m.headers?.values(k) ?? []) headers.push([k, v]);
  return { subject: stripNamespace(m.subject, ns), data: Buffer.from(m.data).toString('base64'), headers };
}

/** Messages in (from, to] a chunk at a time: memory holds one chunk however far behind a group is. */
async function* chunksOf(nc: NatsConnection, stream: string, from: number, to: number, size = 2_000): AsyncGenerator<JsMsg[]> {
  let chunk: JsMsg[] = [];
  for await (const m of messagesOf(nc, stream, from, to)) {
    chunk.push(m);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

/**
 * The messages (of one chunk of a stream) that some durable had not applied in the snapshot, and, per group and schema, the ids of
 * those messages the group HAD applied (a restore records them again, so the group skips them even where its processed
 * ids were pruned since).
 */
async function inFlight(
  reader: pg.Client,
  candidates: JsMsg[],
  durables: Durable[],
  groupSchema: (group: string) => string | undefined,
): Promise<{ messages: JsMsg[]; processed: Map<string, string[]> }> {
  const messages: JsMsg[] = [];
  const processed = new Map<string, string[]>();
  // Which (group, id) pairs the snapshot holds as applied, asked once per schema.
  const applied = new Set<string>();
  const bySchema = new Map<string, { groups: Set<string>; ids: Set<string> }>();
  for (const m of candidates) {
    const id = m.headers?.get('Nats-Msg-Id') ?? '';
    for (const d of durables) {
      const schema = groupSchema(d.group);
      if (!schema || m.seq <= d.ackFloor || !matches(d.filter, m.subject) || !UUID.test(id)) continue;
      const entry = bySchema.get(schema) ?? { groups: new Set(), ids: new Set() };
      entry.groups.add(d.group);
      entry.ids.add(id);
      bySchema.set(schema, entry);
    }
  }
  for (const [schema, { groups, ids }] of bySchema) {
    const r = await reader.query<{ consumer: string; id: string }>(
      `select consumer, event_id::text as id from ${ident(schema)}.processed_events where consumer = any($1) and event_id = any($2::uuid[])`,
      [[...groups], [...ids]],
    );
    for (const row of r.rows) applied.add(`${row.consumer}\u0000${row.id}`);
  }
  for (const m of candidates) {
    const id = m.headers?.get('Nats-Msg-Id') ?? '';
    const mine = durables.filter((d) => matches(d.filter, m.subject));
    const done = mine.filter((d) => m.seq <= d.ackFloor || applied.has(`${d.group}\u0000${id}`));
    if (done.length === mine.length) continue;
    messages.push(m);
    for (const d of done) {
      const schema = groupSchema(d.group);
      if (!schema || !UUID.test(id)) continue;
      const key = `${schema}\u0000${d.group}`;
      processed.set(key, [...(processed.get(key) ?? []), id]);
    }
  }
  return { messages, processed };
}

/** The schema's tables, referenced ones before those that reference them (foreign keys inside the schema). */
async function tablesInLoadOrder(db: pg.Client, schema: string): Promise<string[]> {
  const tables = (
    await db.query<{ name: string }>(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind = 'r' order by 1`,
      [schema],
    )
  ).rows.map((r) => r.name);
  const fks = (
    await db.query<{ child: string; parent: string }>(
      `select c.relname as child, p.relname as parent from pg_constraint k
         join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid join pg_namespace n on n.oid = c.relnamespace
        where k.contype = 'f' and n.nspname = $1 and p.relnamespace = c.relnamespace and c.oid <> p.oid`,
      [schema],
    )
  ).rows;
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (t: string) => {
    if (ordered.includes(t) || visiting.has(t)) return;
    visiting.add(t);
    for (const fk of fks) if (fk.child === t) visit(fk.parent);
    ordered.push(t);
  };
  for (const t of tables) visit(t);
  return ordered;
}

async function dumpTable(db: pg.Client, schema: string, table: string, writer: ReturnType<typeof lineWriter>, progress: Progress): Promise<number> {
  const cols = (
    await db.query<{ name: string; type: string; generated: string; identity: string }>(
      `select attname as name, format_type(atttypid, atttypmod) as type, attgenerated as generated, attidentity as identity
         from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`,
      [`${ident(schema)}.${ident(table)}`],
    )
  ).rows;
  const columns = cols.filter((c) => c.generated === '').map((c) => ({ name: c.name, type: c.type }));
  await writer.write({ t: 'table', schema, table, columns, identity: cols.some((c) => c.identity === 'a') });
  if (columns.length === 0) return 0;
  const cursor = `dump_${schema}_${table}`.slice(0, 60);
  await db.query(
    `declare ${ident(cursor)} no scroll cursor for select array[${columns.map((c) => `${ident(c.name)}::text`).join(', ')}] as r from ${ident(schema)}.${ident(table)}`,
  );
  let total = 0;
  for (;;) {
    const batch = (await db.query<{ r: Array<string | null> }>(`fetch ${ROWS_PER_LINE} from ${ident(cursor)}`)).rows;
    if (batch.length === 0) break;
    await writer.write({ t: 'rows', schema, table, rows: batch.map((b) => b.r) });
    total += batch.length;
    if (total % PROGRESS_EVERY === 0) progress(`  ${schema}.${table}: ${total} rows…`);
  }
  await db.query(`close ${ident(cursor)}`);
  return total;
}

export interface RestoreSummary {
  schemas: number;
  rows: number;
  events: number;
}

/**
 * Restores a mesh backup over `target`: each schema in the backup is dropped, rebuilt by its migrations up to the ones
 * the backup had, and loaded; the namespace's streams are replaced by ones holding the events the backup kept.
 * Every node must be stopped first; start them again afterwards (`pnpm migrate` first when the code is newer).
 */
export async function restoreMesh(
  target: MeshTarget,
  file: string,
  progress: Progress = () => {},
  /** Restore even while other sessions are connected to the database (they may be monitoring, not nodes). */
  force = false,
): Promise<RestoreSummary> {
  const lines = readLines(file);
  const first = (await lines.next().catch(() => undefined))?.value;
  if (!first || first.t !== 'header' || first.format !== FORMAT)
    throw new Error(`${file} is not a mesh backup of the LMS (an embedded backup is restored without DATABASE_URL)`);
  if (first.version !== VERSION) throw new Error(`${file} is backup format ${first.version}; this version reads ${VERSION}`);
  const header = first;
  const modules = new Map(withSchema(target.modules).map((m) => [m.schema, m]));
  for (const s of header.schemas) {
    const m = modules.get(s.schema);
    if (!m) throw new Error(`the backup has schema ${s.schema}, which no service of this version owns`);
    const known = new Set([...Object.keys(runtimeMigrations), ...Object.keys(m.migrations)]);
    const unknown = s.migrations.filter((n: string) => !known.has(n));
    if (unknown.length)
      throw new Error(`${s.schema}: the backup has migrations this version does not know (${unknown.join(', ')}): restore with the version that made it`);
  }
  const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 2, application_name: 'lms-restore' });
  pool.on('error', () => {}); // an idle client's error surfaces on its next query
  const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  const summary: RestoreSummary = { schemas: 0, rows: 0, events: 0 };
  try {
    // Nodes still running would write into the schemas being replaced (or block the drop): refuse while anyone is connected.
    const others = await pool.query<{ n: number; clients: string | null }>(
      `select count(*)::int as n, string_agg(distinct coalesce(client_addr::text, 'local'), ', ') as clients
         from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
    );
    const busy = others.rows[0];
    if (busy && busy.n > 0 && !force) {
      throw new Error(`${busy.n} other sessions are connected to the database (from ${busy.clients ?? '?'}): stop every node first (or restore with --force)`);
    }
    for (const [i, s] of header.schemas.entries()) {
      const m = modules.get(s.schema);
      if (!m) continue;
      await sql.raw(`drop schema if exists ${ident(s.schema)} cascade; create schema ${ident(s.schema)}`).execute(kysely);
      const lastMigration = s.migrations.at(-1);
      if (lastMigration) {
        const migrator = new Migrator({
          db: kysely.withSchema(s.schema),
          provider: { getMigrations: async () => ({ ...runtimeMigrations, ...m.migrations }) },
          migrationTableSchema: s.schema,
        });
        const { error } = await migrator.migrateTo(lastMigration);
        if (error) throw error instanceof Error ? error : new Error(inspect(error));
      }
      progress(`[${i + 1}/${header.schemas.length}] ${s.schema}: schema rebuilt to ${lastMigration ?? 'no migration'}`);
    }

    const client = await pool.connect();
    try {
      await client.query('begin');
      const superuser = (await client.query<{ s: boolean }>('select rolsuper as s from pg_roles where rolname = current_user')).rows[0]?.s;
      // As a superuser, rows go in exactly as they were: no trigger fires, foreign keys are not re-checked row by row.
      if (superuser) await client.query(`set local session_replication_role = replica`);
      for (const s of header.schemas) {
        const tables = (
          await client.query<{ t: string }>(
            `select relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and relkind = 'r'`,
            [s.schema],
          )
        ).rows;
        if (tables.length) await client.query(`truncate ${tables.map((t) => `${ident(s.schema)}.${ident(t.t)}`).join(', ')}`);
      }
      const columnsOf = new Map<string, { columns: Column[]; identity: boolean }>();
      const counts = new Map<string, number>();
      const streams: Array<{ name: string; messages: StreamMessage[] }> = [];
      let ended = false;
      for await (const line of lines) {
        if (line.t === 'table') columnsOf.set(`${line.schema}.${line.table}`, line);
        else if (line.t === 'rows') {
          const t = columnsOf.get(`${line.schema}.${line.table}`);
          if (!t) throw new Error(`${file}: rows of ${line.schema}.${line.table} before its columns`);
          const cols = t.columns.map((c) => ident(c.name)).join(', ');
          const values = t.columns.map((c, i) => `(j->>${i})::${c.type}`).join(', ');
          await client.query(
            `insert into ${ident(line.schema)}.${ident(line.table)} (${cols}) ${t.identity ? 'overriding system value ' : ''}select ${values} from jsonb_array_elements($1::jsonb) j`,
            [JSON.stringify(line.rows)],
          );
          counts.set(line.schema, (counts.get(line.schema) ?? 0) + line.rows.length);
          summary.rows += line.rows.length;
          if (summary.rows % PROGRESS_EVERY < line.rows.length) progress(`  ${summary.rows} rows loaded…`);
        } else if (line.t === 'sequence') {
          await client.query('select setval($1::regclass, $2::bigint, $3)', [`${ident(line.schema)}.${ident(line.name)}`, line.value, line.called]);
        } else if (line.t === 'processed') {
          await client.query(`insert into ${ident(line.schema)}.processed_events (consumer, event_id) select $1, unnest($2::uuid[]) on conflict do nothing`, [
            line.consumer,
            line.ids,
          ]);
        } else if (line.t === 'stream') streams.push(line);
        else if (line.t === 'end') ended = true;
      }
      if (!ended) throw new Error(`${file} ends early (no trailer): the backup is incomplete, nothing was restored`);
      await client.query('commit');
      for (const s of header.schemas) progress(`${s.schema}: ${counts.get(s.schema) ?? 0} rows`);
      summary.schemas = header.schemas.length;
      summary.events = await restoreStreams(target, streams, progress);
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    return summary;
  } finally {
    // Kysely ends the pool only if it used it (a refusal above never did).
    await kysely.destroy();
    if (!pool.ended) await pool.end();
  }
}

/** Replaces the namespace's streams by new ones (the runtime's own definitions) holding the backup's events. */
async function restoreStreams(target: MeshTarget, streams: Array<{ name: string; messages: StreamMessage[] }>, progress: Progress): Promise<number> {
  const nc = await connect({ servers: target.natsUrl, user: target.natsUser, pass: target.natsPassword, name: 'lms-restore' });
  try {
    const jsm = await nc.jetstreamManager();
    const prefix = `${target.namespace.toUpperCase()}_`;
    for (const s of await jsm.streams.names().next()) if (s.startsWith(prefix)) await jsm.streams.delete(s);
    const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} };
    const transport = await JetStreamTransport.connect({
      url: target.natsUrl,
      user: target.natsUser,
      pass: target.natsPassword,
      namespace: target.namespace,
      streams: target.streams,
      logger: silent,
    });
    await transport.close();
    const js = nc.jetstream();
    let total = 0;
    for (const s of streams) {
      for (const m of s.messages) {
        const h = natsHeaders();
        let msgID: string | undefined;
        for (const [k, v] of m.headers) {
          if (k === 'Nats-Msg-Id') msgID = v;
          else if (!k.startsWith('Nats-')) h.append(k, v);
        }
        const subject = m.subject.replace(/^lms\./, `${target.namespace}.`);
        await js.publish(subject, Buffer.from(m.data, 'base64'), { headers: h, msgID });
      }
      total += s.messages.length;
      progress(`${prefix}${s.name}: ${s.messages.length} events republished`);
    }
    return total;
  } finally {
    await nc.close();
  }
}

// ─── Embedded mode ───────────────────────────────────────────────────────────────────────────────────────────────────

/** The running embedded process answers backups on this socket in its data directory (the directory's permissions guard it). */
export const backupSocket = (dataDir: string) => path.join(dataDir, 'backup.sock');
const MAX_SOCKET_PATH = 103;

/**
 * Serves online backups of an embedded node: a client that connects to `backupSocket(dataDir)` receives `OK <bytes>\n`
 * and the gzipped tarball of PGlite's data directory, or `ERR <message>\n`.
 */
export async function serveBackups(
  dataDir: string,
  db: Pick<Database, 'dumpDataDir'>,
  log: Pick<Logger, 'info' | 'warn'>,
): Promise<{ close(): Promise<void> }> {
  const dump = db.dumpDataDir;
  if (!dump) throw new Error('this database cannot dump its data directory');
  const socket = backupSocket(dataDir);
  // The pid file says "in use" even where the socket cannot be served: `lms backup` and `lms restore` must then
  // refuse to open the directory themselves (a second PGlite on the same files would corrupt them).
  const pidFile = runningFile(dataDir);
  fs.writeFileSync(pidFile, String(process.pid));
  const server = net.createServer((conn) => {
    conn.on('error', () => {});
    dump()
      .then(async (blob) => {
        const bytes = Buffer.from(await blob.arrayBuffer());
        conn.end(Buffer.concat([Buffer.from(`OK ${bytes.length}\n`), bytes]));
        log.info(`online backup served (${bytes.length} bytes)`);
      })
      .catch((err: unknown) => {
        log.warn(`online backup failed: ${String(err)}`);
        conn.end(`ERR ${err instanceof Error ? err.message : String(err)}\n`);
      });
  });
  const unlink = () => {
    if (server.listening) fs.rmSync(socket, { force: true });
    fs.rmSync(pidFile, { force: true });
  };
  // `lms start` ends with process.exit on a signal: the files go with it rather than waiting for the next start.
  process.once('exit', unlink);
  const close = async () => {
    const listened = server.listening;
    if (listened) await new Promise<void>((resolve) => server.close(() => resolve()));
    process.off('exit', unlink);
    if (listened) fs.rmSync(socket, { force: true });
    fs.rmSync(pidFile, { force: true });
  };
  // Longer socket paths are cut short by the system (104 bytes on macOS, 108 on Linux, the final NUL included).
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    log.warn(`online backups are off: the socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes (stop the LMS to back it up)`);
    return { close };
  }
  // A socket file left by a process that crashed would refuse our listen: nothing answers on it, so it goes.
  if (fs.existsSync(socket) && !(await answers(socket))) fs.rmSync(socket, { force: true });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
  fs.chmodSync(socket, 0o600);
  return { close };
}

/** `<dataDir>/lms.pid`: the process that has the embedded database open. */
const runningFile = (dataDir: string) => path.join(dataDir, 'lms.pid');

/** The pid of a live process that has the data directory open (a pid file left by a crash names no live process). */
function runningPid(dataDir: string): number | undefined {
  const file = runningFile(dataDir);
  if (!fs.existsSync(file)) return undefined;
  const pid = Number(fs.readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Whether a process listens on the socket. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Asks the running process for its tarball; undefined when none runs on this data directory. */
async function onlineDump(dataDir: string): Promise<Buffer | undefined> {
  const socket = backupSocket(dataDir);
  if (!fs.existsSync(socket) || !(await answers(socket))) return undefined;
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(socket);
    c.on('data', (d: Buffer) => chunks.push(d));
    c.once('end', resolve);
    c.once('error', reject);
  });
  const all = Buffer.concat(chunks);
  const nl = all.indexOf(10);
  const head = all.subarray(0, nl).toString();
  if (!head.startsWith('OK ')) throw new Error(`the running LMS refused the backup: ${head.replace(/^ERR /, '')}`);
  const body = all.subarray(nl + 1);
  if (body.length !== Number(head.slice(3))) throw new Error('the running LMS closed the backup early');
  return body;
}

/**
 * Writes the files of PGlite's tarball (ustar, names relative to the data directory) under `dir`. PGlite's own loader
 * needs its WebAssembly module; this is the same unpacking without it.
 */
export function untar(tarball: Buffer, dir: string): number {
  const root = path.resolve(dir);
  let files = 0;
  for (let at = 0; at + 512 <= tarball.length;) {
    const header = tarball.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (from: number, len: number) => header.toString('latin1', from, from + len).replace(/\0.*$/s, '');
    const name = [field(345, 155), field(0, 100)].filter(Boolean).join('/');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const mode = parseInt(field(100, 8).trim() || '600', 8) & 0o777;
    const type = field(156, 1) || '0';
    const target = path.resolve(root, `.${path.posix.normalize(`/${name}`)}`);
    if (!target.startsWith(root)) throw new Error(`unsafe path in the backup: ${name}`);
    at += 512;
    if (type === '5') fs.mkdirSync(target, { recursive: true, mode: mode | 0o700 });
    else if (type === '0') {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, tarball.subarray(at, at + size), { mode: mode | 0o600 });
      files++;
    }
    at += Math.ceil(size / 512) * 512;
  }
  return files;
}

/**
 * Backs up an embedded install's database: from the running process when there is one (online, through its socket),
 * else by opening the data directory itself.
 */
export async function backupEmbedded(dataDir: string, file: string, progress: Progress = () => {}): Promise<{ bytes: number; online: boolean }> {
  let tarball = await onlineDump(dataDir);
  const online = tarball !== undefined;
  if (tarball) progress(`received the data directory from the running LMS`);
  else {
    const pgDir = path.join(dataDir, 'pg');
    if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) throw new Error(`no embedded database in ${pgDir}`);
    const pid = runningPid(dataDir);
    if (pid) throw new Error(`an LMS (pid ${pid}) has ${dataDir} open and serves no online backup: stop it to back up`);
    progress(`no LMS running on ${dataDir}: reading ${pgDir}`);
    const db = await openDatabase({ dataDir, databaseUrl: undefined });
    try {
      if (!db.dumpDataDir) throw new Error(`${dataDir} holds no embedded database`);
      tarball = Buffer.from(await (await db.dumpDataDir()).arrayBuffer());
    } finally {
      await db.close();
    }
  }
  fs.writeFileSync(file, tarball, { mode: 0o600 });
  progress(`wrote ${file} (${(tarball.length / 1024).toFixed(0)} KiB)`);
  return { bytes: tarball.length, online };
}

/**
 * Restores an embedded backup into `dataDir/pg`. The LMS must be stopped; the database there is kept aside
 * (`pg.before-restore-<time>`), never deleted.
 */
export async function restoreEmbedded(dataDir: string, file: string, progress: Progress = () => {}): Promise<{ keptAside?: string }> {
  if ((fs.existsSync(backupSocket(dataDir)) && (await answers(backupSocket(dataDir)))) || runningPid(dataDir)) {
    throw new Error(`an LMS is running on ${dataDir}: stop it first`);
  }
  const tarball = zlib.gunzipSync(fs.readFileSync(file));
  if (tarball.subarray(257, 262).toString() !== 'ustar') throw new Error(`${file} is not an embedded backup (a mesh backup is restored with DATABASE_URL set)`);
  const pgDir = path.join(dataDir, 'pg');
  let keptAside: string | undefined;
  if (fs.existsSync(pgDir) && fs.readdirSync(pgDir).length > 0) {
    keptAside = `${pgDir}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    fs.renameSync(pgDir, keptAside);
    progress(`kept the current database aside in ${keptAside}`);
  }
  fs.mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  const files = untar(tarball, pgDir);
  progress(`restored ${files} files of ${file} into ${pgDir}`);
  return { keptAside };
}

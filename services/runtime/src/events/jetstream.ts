import { allEvents, type EventContract } from '@lms/contracts';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import type { Logger } from '../logger.js';
import { NATS_RECONNECT_WAIT_MS } from '../nats-transporter.js';
import { eventsHandled } from '../metrics.js';
import { isDatabaseUnavailable } from '../errors.js';
import { applyBatch, applyThroughOutage, decode, PoisonMessageError, pruneProcessed, resetConsumer } from './apply.js';
import { backoffMs, toEnvelope, type DeadLetter, type EventTransport, type OutboxRow, type Subscription, type SubscriptionHandle } from './types.js';

/**
 * Replicas and retention of every stream (LMS_STREAM_*; docs/operations.md, "NATS cluster"). Consumers take the
 * replica count of their stream.
 */
export interface StreamLimits {
  /** 3 on a 3-server cluster: a stream then survives the loss of any one server with no acknowledged event lost. */
  replicas: number;
  /**
   * How long an event (or a dead letter) is kept. Bounds: the longest a consuming service may be down and still get
   * every event, how long a dead letter waits for a replay, how far back a rebuild replays, and so how long a
   * redelivery can still arrive (consumers forget processed ids older than this, see pruneProcessed).
   */
  maxAgeMs: number;
  /**
   * Largest size of a stream; none when undefined. A full stream refuses new events (discard `new`): they wait in the
   * outboxes, none is dropped. JetStream reserves it up front on each server holding a replica, so it is production
   * configuration (docker-compose.yml): a default would reserve gigabytes per test namespace on a shared server.
   */
  maxBytes?: number;
}

export const defaultStreamLimits: StreamLimits = { replicas: 1, maxAgeMs: 14 * 86_400_000 };

/**
 * Processed ids are kept a day beyond the streams' max age (clock skew between the NATS servers and PostgreSQL, an
 * outbox row republished late), and pruned hourly.
 */
const PROCESSED_IDS_MARGIN_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * How long a pull request waits on the server. Its idle heartbeat is half of it, and two missed heartbeats make the
 * client pull again: after the consumer's leader moved to another server (a server died), delivery resumes within
 * about this long instead of the 30 s default.
 */
const PULL_EXPIRES_MS = 2_000;

/**
 * Stream and consumer administration waits this long for the cluster: creating a replicated stream goes through
 * the meta leader and every replica's fsync, seconds when several nodes start at once.
 */
const JS_API_TIMEOUT_MS = 15_000;
/** What JetStream answers when creating a stream or consumer that exists with another configuration. */
const ALREADY_EXISTS = /already (in use|exists)/i;
/** How long a starting node waits for JetStream to answer (a cluster electing its meta leader, a server restarting). */
const JS_START_WAIT_MS = 60_000;

/**
 * Runs a JetStream administration step again while JetStream cannot answer yet (no responders: no meta leader, or a
 * timeout), for up to JS_START_WAIT_MS; any other error is thrown at once.
 */
async function untilJetStreamAnswers<T>(step: () => Promise<T>, logger: Logger): Promise<T> {
  const until = Date.now() + JS_START_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const transient = /\b503\b|no responders|timeout/i.test(String(err));
      if (!transient || Date.now() > until) throw err;
      logger.warn({ err: String(err), attempt }, 'JetStream does not answer yet; trying again');
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 4_000)));
    }
  }
}

/**
 * What the relay logs when JetStream refuses a publish: the server's reason (`maximum bytes exceeded` for a full
 * stream) rather than nats.js's bare status code, which reads the same for a stream with no leader (`503`).
 */
function publishError(err: unknown): Error {
  const api = (err as { api_error?: { description?: string; err_code?: number } } | undefined)?.api_error;
  if (api?.description) return new Error(`JetStream refused the events: ${api.description} (${api.err_code ?? '?'})`, { cause: err });
  if (/\b503\b/.test(String(err))) return new Error('JetStream refused the events: no stream leader answers (503)', { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

export interface JetStreamOptions {
  /** NATS server URL(s), comma-separated: every server of a cluster, so that the connection survives the loss of one. */
  url: string;
  user?: string;
  pass?: string;
  /** Replaces the `lms` prefix of subjects and streams, so installs or test runs can share a server. */
  namespace: string;
  name?: string;
  /** Window in which JetStream drops a second message with the same Nats-Msg-Id. */
  duplicateWindowMs?: number;
  backoffBaseMs?: number;
  /** Most events applied in one consumer transaction. */
  batchSize?: number;
  /** How long JetStream waits for an ack before redelivering (a consumer that died holds its messages this long). */
  ackWaitMs?: number;
  /** Replicas and retention of the streams; defaultStreamLimits when absent. */
  streams?: StreamLimits;
  /** How often each consumer forgets processed ids past the redelivery horizon (hourly by default). */
  pruneEveryMs?: number;
  logger: Logger;
}

const enc = new TextEncoder();

/**
 * Domain events on JetStream: one stream per domain (`LMS_COURSE` holds `lms.course.>`),
 * durable pull consumers per consumer group, a dead-letter stream (`LMS_DLQ`).
 */
export class JetStreamTransport implements EventTransport {
  readonly kind = 'jetstream' as const;
  readonly lockWhilePublishing = true;
  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private readonly handles = new Map<string, SubscriptionHandle>();
  private readonly ns: string;

  constructor(private readonly opts: JetStreamOptions) {
    if (!/^[a-z][a-z0-9_]*$/.test(opts.namespace)) throw new Error(`bad namespace ${opts.namespace}`);
    this.ns = opts.namespace;
  }

  static async connect(opts: JetStreamOptions): Promise<JetStreamTransport> {
    const t = new JetStreamTransport(opts);
    // A role's connection gets its answers and pulled messages on its own inbox prefix, so NATS can let it
    // read only those (`_INBOX_<role>.>` in infra/nats/nats.conf), not every node's.
    t.nc = await connect({
      servers: opts.url
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      user: opts.user,
      pass: opts.pass,
      name: opts.name ?? 'lms-events',
      maxReconnectAttempts: -1,
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
      inboxPrefix: opts.user ? `_INBOX_${opts.user}` : undefined,
      // Every publish is a request; without this nats.js builds an Error (a stack trace) per request, a third of
      // the relay's CPU in a profile (issue 18). Errors keep their message and code, only the async stack goes.
      noAsyncTraces: true,
    });
    t.jsm = await untilJetStreamAnswers(() => t.nc.jetstreamManager({ timeout: JS_API_TIMEOUT_MS }), opts.logger);
    t.js = t.nc.jetstream();
    await untilJetStreamAnswers(() => t.ensureStreams(), opts.logger);
    return t;
  }

  wireSubject(subject: string): string {
    return subject.replace(/^lms\./, `${this.ns}.`);
  }
  streamName(stream: string): string {
    return stream.replace(/^LMS_/, `${this.ns.toUpperCase()}_`);
  }
  get dlqStream(): string {
    return `${this.ns.toUpperCase()}_DLQ`;
  }

  /** Creates or updates every stream the contracts name, and the dead-letter stream. */
  async ensureStreams(): Promise<void> {
    const byStream = new Map<string, Set<string>>();
    for (const e of allEvents()) {
      const domain = e.subject.split('.')[1];
      const set = byStream.get(this.streamName(e.stream)) ?? new Set<string>();
      set.add(`${this.ns}.${domain}.>`);
      byStream.set(this.streamName(e.stream), set);
    }
    byStream.set(this.dlqStream, new Set([`${this.ns}.dlq.>`]));
    const limits = this.limits;
    for (const [name, subjects] of byStream) {
      const cfg: Partial<StreamConfig> = {
        name,
        subjects: [...subjects],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: limits.replicas,
        max_age: nanos(limits.maxAgeMs),
        max_bytes: limits.maxBytes ?? -1,
        // Never drop an event nobody may have read yet: a full stream refuses the publish, the outbox keeps the row.
        discard: DiscardPolicy.New,
        duplicate_window: nanos(Math.min(this.opts.duplicateWindowMs ?? 120_000, limits.maxAgeMs)),
      };
      // Create first: with the same configuration it is a no-op, answered by the meta leader. Asking the stream for its
      // info first would wait on a stream another node has just created and that has no leader yet.
      try {
        await this.jsm.streams.add(cfg);
      } catch (err) {
        if (!ALREADY_EXISTS.test(String(err))) throw err;
        await this.jsm.streams.update(name, cfg);
      }
    }
  }

  private get limits(): StreamLimits {
    return this.opts.streams ?? defaultStreamLimits;
  }

  /** Processed ids older than this can no longer meet a redelivery: the stream no longer holds the event. */
  get processedIdsHorizonMs(): number {
    return this.limits.maxAgeMs + PROCESSED_IDS_MARGIN_MS;
  }

  async publish(rows: OutboxRow[]): Promise<void> {
    await Promise.all(
      rows.map((row) => {
        const h = natsHeaders();
        if (row.request_id) h.set('Lms-Request-Id', row.request_id);
        return this.js.publish(this.wireSubject(row.subject), enc.encode(JSON.stringify(toEnvelope(row))), {
          msgID: row.id,
          headers: h,
        });
      }),
    ).catch((err: unknown) => {
      throw publishError(err);
    });
  }

  private durable(sub: Subscription, e: EventContract): string {
    return `${sub.consumer}__${e.subject.replace(/[.>*]/g, '_')}`;
  }

  private async ensureConsumer(sub: Subscription, e: EventContract): Promise<void> {
    const durable = this.durable(sub, e);
    const cfg: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.wireSubject(e.subject),
      ack_wait: nanos(this.opts.ackWaitMs ?? 30_000),
      // The dead-lettering below is ours; this is only a backstop should it ever fail.
      max_deliver: sub.maxDeliver + 2,
      max_ack_pending: 5_000,
    };
    const stream = this.streamName(e.stream);
    try {
      await this.jsm.consumers.add(stream, cfg); // a no-op when it exists with this configuration (see ensureStreams)
    } catch (err) {
      if (!ALREADY_EXISTS.test(String(err))) throw err;
      await this.jsm.consumers.update(stream, durable, { ack_wait: cfg.ack_wait, max_deliver: cfg.max_deliver, max_ack_pending: cfg.max_ack_pending });
    }
  }

  async subscribe(sub: Subscription): Promise<SubscriptionHandle> {
    const loops: Array<{ stop(): Promise<void> }> = [];
    for (const e of sub.events) {
      await untilJetStreamAnswers(() => this.ensureConsumer(sub, e), this.opts.logger);
      const consumer = await untilJetStreamAnswers(() => this.js.consumers.get(this.streamName(e.stream), this.durable(sub, e)), this.opts.logger);
      const messages = await consumer.consume({ max_messages: 1_000, expires: PULL_EXPIRES_MS });
      loops.push(this.loop(sub, messages));
    }
    const prune = () =>
      void pruneProcessed(sub, this.processedIdsHorizonMs).then(
        (n) => n > 0 && this.opts.logger.info({ consumer: sub.consumer, pruned: n }, 'forgot processed ids past the redelivery horizon'),
        (err: unknown) => this.opts.logger.warn({ consumer: sub.consumer, err: String(err) }, 'pruning processed ids failed; will retry'),
      );
    const pruner = setInterval(prune, this.opts.pruneEveryMs ?? PRUNE_EVERY_MS);
    pruner.unref();
    prune();
    const handle = {
      stop: async () => {
        clearInterval(pruner);
        await Promise.all(loops.map((l) => l.stop()));
      },
    };
    this.handles.set(sub.consumer, handle);
    return handle;
  }

  /** Takes whatever has arrived as one batch: no added latency when idle, big batches under load. */
  private loop(sub: Subscription, messages: ConsumerMessages): { stop(): Promise<void> } {
    const queue: JsMsg[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    void (async () => {
      for await (const m of messages) {
        queue.push(m);
        wake?.();
      }
      ended = true;
      wake?.();
    })();
    const done = (async () => {
      while (!ended || queue.length) {
        if (queue.length === 0) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        try {
          await this.process(sub, queue.splice(0, this.opts.batchSize ?? 500), () => ended);
        } catch (err) {
          this.opts.logger.error({ err: String(err), consumer: sub.consumer }, 'consumer batch failed');
        }
      }
    })();
    return {
      stop: async () => {
        await messages.close();
        ended = true;
        wake?.();
        await done;
      },
    };
  }

  private async process(sub: Subscription, batch: JsMsg[], stopping: () => boolean = () => false): Promise<void> {
    const good: Array<{ m: JsMsg; env: ReturnType<typeof decode> }> = [];
    for (const m of batch) {
      try {
        good.push({ m, env: decode(sub, m.data) });
      } catch (err) {
        await this.deadLetter(sub, m, err);
      }
    }
    if (good.length === 0) return;
    try {
      // A database outage holds the batch until the database is back (not a failed delivery).
      await applyThroughOutage(
        sub,
        good.map((g) => g.env),
        {
          hold: () => good.forEach((g) => g.m.working()),
          stopping,
          onOutage: () => this.opts.logger.warn({ consumer: sub.consumer }, 'database unavailable; holding the batch until it is back'),
        },
      );
      for (const g of good) g.m.ack();
      return;
    } catch (err) {
      const [only] = good;
      if (good.length === 1 && only) return this.failed(sub, only.m, err);
    }
    // One bad event must not hold back the rest: apply them one by one.
    for (const g of good) {
      try {
        await applyBatch(sub, [g.env]);
        g.m.ack();
      } catch (err) {
        await this.failed(sub, g.m, err);
      }
    }
  }

  private async failed(sub: Subscription, m: JsMsg, err: unknown): Promise<void> {
    const deliveries = m.info.redeliveryCount;
    // Stopping during an outage: redelivered later, never dead-lettered for it.
    if (isDatabaseUnavailable(err)) return void m.nak(1_000);
    if (deliveries >= sub.maxDeliver) return this.deadLetter(sub, m, err);
    eventsHandled.inc({ consumer: sub.consumer, result: 'retried' });
    this.opts.logger.warn({ consumer: sub.consumer, subject: m.subject, deliveries, err: String(err) }, 'event handler failed; will retry');
    m.nak(backoffMs(deliveries, this.opts.backoffBaseMs));
  }

  private async deadLetter(sub: Subscription, m: JsMsg, err: unknown): Promise<void> {
    const h = natsHeaders();
    h.set('Lms-Consumer', sub.consumer);
    h.set('Lms-Subject', m.subject);
    h.set('Lms-Error', String(err instanceof Error ? err.message : err).slice(0, 500));
    h.set('Lms-Deliveries', String(m.info.redeliveryCount));
    h.set('Lms-Failed-At', new Date().toISOString());
    await this.js.publish(`${this.ns}.dlq.${sub.consumer}`, m.data, { headers: h, msgID: `dlq:${sub.consumer}:${m.info.stream}:${m.seq}` });
    m.term();
    eventsHandled.inc({ consumer: sub.consumer, result: 'dead_lettered' });
    this.opts.logger.error({ consumer: sub.consumer, subject: m.subject, poison: err instanceof PoisonMessageError, err: String(err) }, 'event dead-lettered');
  }

  async deadLetters(sub: Subscription, limit = 100): Promise<DeadLetter[]> {
    const info = await this.jsm.streams.info(this.dlqStream);
    const out: DeadLetter[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < limit; seq++) {
      const m = await this.jsm.streams.getMessage(this.dlqStream, { seq }).catch(() => undefined);
      if (!m || m.subject !== `${this.ns}.dlq.${sub.consumer}`) continue;
      let envelope: DeadLetter['envelope'];
      try {
        envelope = JSON.parse(new TextDecoder().decode(m.data)) as DeadLetter['envelope'];
      } catch {
        envelope = { id: '', subject: m.header.get('Lms-Subject'), version: 0, occurredAt: '', key: null, requestId: null, payload: null };
      }
      out.push({
        id: m.seq,
        consumer: sub.consumer,
        eventId: envelope?.id ?? '',
        subject: m.header.get('Lms-Subject'),
        error: m.header.get('Lms-Error'),
        deliveries: Number(m.header.get('Lms-Deliveries')),
        failedAt: m.header.get('Lms-Failed-At'),
        envelope,
      });
    }
    return out;
  }

  /**
   * Applies a dead letter again, in this consumer group only (other groups already have it), with
   * the same once-only bookkeeping as a delivery; the dead letter goes once it applied. Nothing is
   * republished, so a node needs no right to publish on subjects it only consumes.
   */
  async replay(sub: Subscription, id: number): Promise<void> {
    const m = await this.jsm.streams.getMessage(this.dlqStream, { seq: id });
    if (m.subject !== `${this.ns}.dlq.${sub.consumer}`) throw new Error(`dead letter ${id} is not ${sub.consumer}'s`);
    await applyBatch(sub, [decode(sub, m.data)]);
    await this.jsm.streams.deleteMessage(this.dlqStream, id);
  }

  async rebuild(sub: Subscription): Promise<void> {
    // A stream keeps LMS_STREAM_MAX_AGE_DAYS of events: past that, a rebuild replays only what is left. Said, not refused,
    // as a projection of recent events (or one that a backup restored) can still be rebuilt usefully.
    for (const stream of new Set(sub.events.map((e) => this.streamName(e.stream)))) {
      const { state } = await this.jsm.streams.info(stream);
      if (state.first_seq > 1) {
        this.opts.logger.warn(
          { consumer: sub.consumer, stream, since: state.first_ts },
          'rebuilding from a stream that no longer holds its oldest events (past LMS_STREAM_MAX_AGE_DAYS): older events are not replayed',
        );
      }
    }
    await this.handles.get(sub.consumer)?.stop();
    for (const e of sub.events) {
      await this.jsm.consumers.delete(this.streamName(e.stream), this.durable(sub, e)).catch(() => false);
    }
    await resetConsumer(sub);
    await this.subscribe(sub);
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.stop()));
    this.handles.clear();
    await this.nc.drain();
  }

  /** For tests and the benchmark: publish raw bytes on a contract subject. */
  async publishRaw(subject: string, data: string, msgID?: string): Promise<void> {
    await this.js.publish(this.wireSubject(subject), enc.encode(data), msgID ? { msgID } : undefined);
  }
}

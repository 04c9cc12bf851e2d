import { allEvents, type EventContract } from '@lms/contracts';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
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
import { eventsHandled } from '../metrics.js';
import { isDatabaseUnavailable } from '../errors.js';
import { applyBatch, applyThroughOutage, decode, PoisonMessageError, resetConsumer } from './apply.js';
import { backoffMs, toEnvelope, type DeadLetter, type EventTransport, type OutboxRow, type Subscription, type SubscriptionHandle } from './types.js';

export interface JetStreamOptions {
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
      servers: opts.url,
      user: opts.user,
      pass: opts.pass,
      name: opts.name ?? 'lms-events',
      maxReconnectAttempts: -1,
      inboxPrefix: opts.user ? `_INBOX_${opts.user}` : undefined,
    });
    t.jsm = await t.nc.jetstreamManager();
    t.js = t.nc.jetstream();
    await t.ensureStreams();
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
    for (const [name, subjects] of byStream) {
      const cfg: Partial<StreamConfig> = {
        name,
        subjects: [...subjects],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(this.opts.duplicateWindowMs ?? 120_000),
      };
      try {
        await this.jsm.streams.info(name);
        await this.jsm.streams.update(name, cfg);
      } catch (err) {
        if (!String(err).includes('not found')) throw err;
        await this.jsm.streams.add(cfg);
      }
    }
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
    );
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
      await this.jsm.consumers.info(stream, durable);
      await this.jsm.consumers.update(stream, durable, { ack_wait: cfg.ack_wait, max_deliver: cfg.max_deliver, max_ack_pending: cfg.max_ack_pending });
    } catch (err) {
      if (!String(err).includes('not found')) throw err;
      await this.jsm.consumers.add(stream, cfg);
    }
  }

  async subscribe(sub: Subscription): Promise<SubscriptionHandle> {
    const loops: Array<{ stop(): Promise<void> }> = [];
    for (const e of sub.events) {
      await this.ensureConsumer(sub, e);
      const consumer = await this.js.consumers.get(this.streamName(e.stream), this.durable(sub, e));
      const messages = await consumer.consume({ max_messages: 1_000 });
      loops.push(this.loop(sub, messages));
    }
    const handle = { stop: async () => void (await Promise.all(loops.map((l) => l.stop()))) };
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

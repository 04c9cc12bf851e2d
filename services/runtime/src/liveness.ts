import { Discoverers, Errors } from 'moleculer';
import { ActionSubjectNatsTransporter, RECONNECT_GRACE_MS } from './nats-transporter.js';

type Registry = Parameters<InstanceType<typeof Discoverers.Local>['init']>[0];

/** How fast a dead node is noticed (broker-options.ts fills these from the MOLECULER_* heartbeat variables). */
export interface LivenessOptions {
  /** Each node broadcasts a heartbeat this often (ms). */
  intervalMs: number;
  /** A node silent this long (ms) is looked up on NATS, and dropped at once if NATS no longer connects it. */
  suspectAfterMs: number;
  /** A node silent this long (ms) is dropped whatever NATS says (a host that vanished without closing its socket). */
  timeoutMs: number;
}

/** How often silences are judged (ms): fine enough that a silence is acted on within a tenth of a second. */
const CHECK_EVERY_MS = 100;
/** Slack for a request that reached NATS just before the node's socket was seen closed (ms). */
const IN_FLIGHT_MARGIN_MS = 250;

/**
 * Moleculer's discoverer with a dead node noticed in about a second instead of 15–30 s, and the calls it held
 * retried at once instead of each waiting for its timeout.
 *
 * Noticing: Moleculer counts heartbeats in whole seconds of uptime and judges them once per timeout. Here every
 * node beats every `intervalMs`; a node silent for `suspectAfterMs` is looked up on NATS (the transporter's
 * `presenceOf`): a process that died has had its connection closed, so NATS answers at once that nobody holds its
 * subjects, and it is dropped. A node that is only slow (a blocked event loop) is still connected and stays, so a
 * short suspicion costs no false alarms; `timeoutMs` drops a node silent for long whatever NATS says.
 *
 * The calls it held: a remote call travels on its action's NATS queue group (nats-transporter.ts), so the node that
 * serves it is not the one Moleculer's pending request names, and Moleculer's own rule (reject what is pending "at"
 * the node that left) both misses the calls the dead node really held (they waited for the 10 s timeout) and
 * rejects calls another node is serving. Here, when a node dies, the pending calls it said it runs (a node tells the
 * caller once a call has run 250 ms, nats-transporter.ts) and, among the others, those of its actions sent before it
 * went away (its last heartbeat, one interval and a margin) are rejected with a retryable error, and the retry policy
 * sends them to a live node at once. Calls sent later went to live nodes: NATS had dropped the dead one from the
 * queue groups; slow calls another node said it runs are left to it. A node that left politely (DISCONNECT) had left
 * the queue groups and drained first: only what it said it still runs (a drain cut short) is rejected. A retried
 * mutation carries its `ctx.meta` (the idempotency key) unchanged.
 */
export class LivenessDiscoverer extends Discoverers.Local {
  /** When each remote node was last heard (ms): a heartbeat or its INFO. */
  private readonly lastSeen = new Map<string, number>();
  private readonly probing = new Set<string>();
  /** Per node being dropped: calls sent up to this time may be held by it. */
  private readonly heldUntil = new Map<string, number>();
  private lastCheck = 0;
  private skippedLast = false;
  private cpuMeasuredAt = 0;

  constructor(private readonly liveness: LivenessOptions) {
    super({ heartbeatInterval: liveness.intervalMs / 1000, heartbeatTimeout: liveness.timeoutMs / 1000 });
  }

  override init(registry: Registry): void {
    super.init(registry);
    const transit = this.transit;
    if (!transit) return;
    // Moleculer calls this when a node is dropped, for whatever reason; streamed requests keep its own rule.
    const streamsOf = transit.removePendingRequestByNodeID.bind(transit);
    transit.removePendingRequestByNodeID = (nodeID: string) => {
      this.rejectCallsHeldBy(nodeID);
      streamsOf(nodeID);
    };
  }

  override startHeartbeatTimers(): void {
    this.stopHeartbeatTimers();
    const now = Date.now();
    // ±10 % so that the mesh's heartbeats do not fall into step.
    this.heartbeatTimer = setInterval(() => void this.beat(), this.liveness.intervalMs * (0.9 + Math.random() * 0.2)).unref();
    this.lastCheck = now;
    this.checkNodesTimer = setInterval(() => this.checkRemoteNodes(), CHECK_EVERY_MS).unref();
    this.offlineTimer = setInterval(() => this.checkOfflineNodes(), 60_000).unref();
  }

  /** The heartbeat goes out now; the CPU figure it carries (for the CpuUsage strategy) is measured every 5 s at most. */
  override beat(): Promise<void> {
    const now = Date.now();
    if (this.localNode && now - this.cpuMeasuredAt > 5_000) {
      this.cpuMeasuredAt = now;
      void this.localNode.updateLocalInfo(this.broker.getCpuUsage.bind(this.broker));
    }
    return this.sendHeartbeat();
  }

  override heartbeatReceived(nodeID: string, payload: Record<string, unknown>): void {
    this.lastSeen.set(nodeID, Date.now());
    super.heartbeatReceived(nodeID, payload);
  }

  override processRemoteNodeInfo(nodeID: string, payload: Record<string, unknown>) {
    this.lastSeen.set(nodeID, Date.now());
    return super.processRemoteNodeInfo(nodeID, payload);
  }

  override checkRemoteNodes(): void {
    const now = Date.now();
    const late = now - this.lastCheck - CHECK_EVERY_MS;
    this.lastCheck = now;
    // This process was blocked: the heartbeats that came meanwhile are still unread. Judge on the next tick (once:
    // a process late on every tick still judges every other one).
    const skip = late > CHECK_EVERY_MS && !this.skippedLast;
    this.skippedLast = skip;
    if (skip) return;
    // Our own connection is away or just back (a NATS restart): the others are reconnecting too, and their
    // silence says nothing yet. Start counting it again once the grace is over.
    const tx = this.transit?.tx;
    if (tx instanceof ActionSubjectNatsTransporter && tx.reconnectedWithin(RECONNECT_GRACE_MS)) {
      for (const id of this.lastSeen.keys()) this.lastSeen.set(id, now);
      return;
    }
    for (const node of this.registry.nodes.toArray()) {
      if (node.local || !node.available) continue;
      const seen = this.lastSeen.get(node.id);
      if (seen === undefined) {
        this.lastSeen.set(node.id, now);
        continue;
      }
      const silent = now - seen;
      // Silent past the timeout: it may still hold anything sent until now.
      if (silent > this.liveness.timeoutMs) this.drop(node.id, now, `silent for ${silent} ms`);
      else if (silent > this.liveness.suspectAfterMs) void this.probe(node.id, seen);
    }
  }

  /** A DISCONNECT: the node left its queue groups and finished its calls before saying goodbye (time rule off). */
  override remoteNodeDisconnected(nodeID: string, isUnexpected: boolean): void {
    if (!isUnexpected) this.heldUntil.set(nodeID, -Infinity);
    try {
      super.remoteNodeDisconnected(nodeID, isUnexpected);
    } finally {
      this.heldUntil.delete(nodeID);
      this.lastSeen.delete(nodeID);
    }
  }

  private async probe(nodeID: string, seen: number): Promise<void> {
    const tx = this.transit?.tx;
    if (!(tx instanceof ActionSubjectNatsTransporter) || this.probing.has(nodeID)) return;
    this.probing.add(nodeID);
    try {
      const presence = await tx.presenceOf(nodeID);
      // Gone, and not heard from while asking: it died after its last heartbeat, within one interval (or it
      // would have sent another one), and NATS stopped handing it calls when its socket closed.
      if (presence === 'gone' && this.lastSeen.get(nodeID) === seen) {
        this.drop(nodeID, seen + this.liveness.intervalMs * 1.1 + IN_FLIGHT_MARGIN_MS, 'its NATS connection is closed');
      }
    } finally {
      this.probing.delete(nodeID);
    }
  }

  private drop(nodeID: string, heldUntil: number, why: string): void {
    this.heldUntil.set(nodeID, heldUntil);
    try {
      this.logger.warn(`Node '${nodeID}' is gone (${why}); the calls it may hold are retried on other nodes.`);
      this.registry.nodes.disconnected(nodeID, true);
    } finally {
      this.heldUntil.delete(nodeID);
      this.lastSeen.delete(nodeID);
    }
  }

  /** Rejects, retryably, the pending calls the node may hold (see the class comment). */
  private rejectCallsHeldBy(nodeID: string): void {
    const transit = this.transit;
    const tx = transit?.tx;
    if (!transit || !(tx instanceof ActionSubjectNatsTransporter)) return;
    // Dropped by some other path (a restart under the same id): anything sent until now may be there.
    const heldUntil = this.heldUntil.get(nodeID) ?? Date.now();
    const node = this.registry.nodes.get(nodeID);
    const actions = new Set((node?.services ?? []).flatMap((s) => Object.keys((s as { actions?: Record<string, unknown> }).actions ?? {})));
    for (const [id, req] of transit.pendingRequests) {
      if (req.stream) continue;
      const action = (req.ctx.action as { name?: string } | undefined)?.name;
      const sentAt = tx.sentAt(req);
      // A node that runs it said so (a call running 250 ms or more): that settles it. Otherwise, by time.
      const holder = tx.holderOf(req);
      const held = holder !== undefined ? holder === nodeID : action !== undefined && actions.has(action) && (sentAt === undefined || sentAt <= heldUntil);
      if (held) {
        transit.pendingRequests.delete(id);
        req.reject(new Errors.RequestRejectedError({ action: action ?? 'unknown', nodeID }));
      } else if (req.nodeID === nodeID) {
        // The broker had picked it, but NATS gave the call to a live node: its answer will come.
        req.nodeID = '';
      }
    }
  }
}

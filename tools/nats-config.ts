/**
 * Generates infra/nats/nats.conf (one server) and infra/nats/cluster.conf (each server of a 3-server cluster): one
 * NATS user per node role, with only the subjects that role needs, the same in both
 * (`pnpm lms nats-config`; tools/test/nats-config.test.ts fails when a committed file is out of date).
 *
 * What Moleculer puts on NATS (moleculer 0.15, NATS transporter, `disableBalancer: true` in mesh mode, see
 * services/runtime/src/broker-options.ts; prefix `MOL-<namespace>`):
 * - a call: `REQB.<action>`, a queue group per action that every node serving the action joins
 *   (transporters/base.js publishBalancedRequest, nats.js subscribeBalancedRequest). Never `REQ.<node>`
 *   unless a caller names a node (`opts.nodeID`), which the LMS never does.
 * - its answer: `RES.<caller node>`.
 * - `broker.broadcast()`: `EVENT.<node>`, once per node with a handler (service-broker.js broadcast);
 *   `broker.emit()`: `EVENTB.<group>.<event>` (a group is a service name).
 * - discovery: `DISCOVER`, `INFO`, `DISCONNECT`, `HEARTBEAT`, `PING` broadcast; `DISCOVER|INFO|PING|PONG.<node>`.
 * Node ids carry the role (`<role>.<host>-<pid>`, broker-options.ts), so `REQ.courses.>` is exactly the
 * courses nodes' own subjects.
 *
 * So per role: subscribe to the requests of its own services' actions, its own node subjects and the
 * broadcast ones; publish requests only to the actions it may call: every action that checks its caller's
 * access token (the runtime does), its own services' actions, and the `internal` ones granted below. An
 * `internal` action thus needs the NATS credential of a role allowed to call it; `events.*` (the consumer
 * operator actions) and `$node.*` only the operator's.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  assignmentsInternal,
  attemptsInternal,
  assessmentsInternal,
  auditInternal,
  coursesInternal,
  credentialsInternal,
  enrollmentsInternal,
  erasureReceiptServices,
  erasureReceipts,
  filesInternal,
  gradesInternal,
  privacyExportContract,
  privacyParticipants,
  usersInternal,
  llmWorkerInternal,
  type AnyProcedure,
} from '@lms/contracts';
import { SERVICES } from './services.ts';

export interface NatsRole {
  /** What this role's nodes run (docker-compose.yml: `node --services ...`). */
  services: string[];
  /** `internal` actions of other services that its code calls. */
  calls: AnyProcedure[];
  /** Roles whose nodes get its Moleculer broadcasts (`EVENT.<node>`); `every` for all roles, those added later included. */
  broadcastsTo: string[] | 'every';
  /** JetStream: domain events it publishes (besides its services' erasure receipts). Absent: no JetStream at all. */
  events?: string[];
  note: string;
}

export const natsRoles: Record<string, NatsRole> = {
  gateway: {
    note: "The only node facing the internet: RPC only. It can neither publish domain events nor read the\n    # event log (which carries single-use email tokens), nor touch JetStream at all; it cannot read another\n    # node's requests, broadcast, or call an internal action but the two file streaming needs.",
    services: ['gateway'],
    calls: [filesInternal.register, filesInternal.openForRead, usersInternal.roleChanges],
    broadcastsTo: [],
  },
  identity: {
    note: 'auth + users: account, session and profile events, the notification requests they make, privacy\n    # exports (it asks every participant), avatars (files.describe); it tells every node when sessions end, keys rotate or roles change.',
    services: ['auth', 'users'],
    calls: [filesInternal.describe, ...privacyParticipants.map((s) => privacyExportContract(s).privacyExport)],
    broadcastsTo: 'every',
    events: ['lms.auth.>', 'lms.user.>', 'lms.notification.>', 'lms.privacy.exported.v1', 'lms.privacy.record_accessed.v1'],
  },
  courses: {
    note: 'courses: course events.',
    services: ['courses'],
    calls: [usersInternal.byId, usersInternal.summaries],
    broadcastsTo: [],
    events: ['lms.course.>'],
  },
  files: {
    note: 'files: file events (uploaded, deleted).',
    services: ['files'],
    calls: [coursesInternal.roleOf],
    broadcastsTo: [],
    events: ['lms.file.>'],
  },
  enrollments: {
    note: "enrollments: the sagas' events and the welcome messages they ask for; the completion saga reads outcomes and grades and issues certificates.",
    services: ['enrollments'],
    calls: [
      attemptsInternal.outcome,
      assignmentsInternal.outcome,
      gradesInternal.courseGrade,
      credentialsInternal.issue,
      coursesInternal.publishedOutline,
      coursesInternal.roleOf,
      coursesInternal.lessonCourse,
      coursesInternal.enrollmentTerms,
      usersInternal.byEmail,
      usersInternal.byId,
      usersInternal.summaries,
    ],
    broadcastsTo: [],
    events: ['lms.enrollment.>', 'lms.notification.>'],
  },
  analytics: {
    note: "analytics + audit: projections; they publish nothing of their own but audit's erasure receipt.",
    services: ['analytics', 'audit'],
    calls: [],
    broadcastsTo: [],
    events: [],
  },
  grades: {
    note: "grades: the gradebook; grade released events; learners' names for the grid and the CSV export.",
    services: ['grades'],
    calls: [coursesInternal.roleOf, usersInternal.summaries],
    broadcastsTo: [],
    events: ['lms.grade.>'],
  },
  search: {
    note: 'search: the search index (a read model of course, enrollment and member events); it reads courses to index and publishes search analytics.',
    services: ['search'],
    calls: [coursesInternal.searchDocument],
    broadcastsTo: [],
    events: ['lms.search.>'],
  },
  ai: {
    note: 'llm: the AI gateway service (quotas, routing, usage); it reads course roles and sends the work to the llm workers.',
    services: ['llm'],
    calls: [coursesInternal.roleOf, llmWorkerInternal.chat],
    broadcastsTo: [],
    events: [],
  },
  llm: {
    note: 'llm-worker: runs AI requests on the Ollama beside it (a GPU node); RPC only, no JetStream.',
    services: ['llm-worker'],
    calls: [],
    broadcastsTo: [],
    events: [],
  },
  attempts: {
    note: "attempts: quiz attempts; it reads quizzes from assessments, checks that files answering a file question are the learner's\n    # and grants the graders read of them, and publishes submissions and grades.",
    services: ['attempts'],
    calls: [coursesInternal.roleOf, assessmentsInternal.quizForAttempt, filesInternal.describe, filesInternal.grantRead],
    broadcastsTo: [],
    events: ['lms.assessment.submitted.v1', 'lms.assessment.graded.v1'],
  },
  notifications: {
    note: "notifications: deliveries; it pushes new in-app notifications to the gateways' live streams.",
    services: ['notifications'],
    calls: [
      usersInternal.notificationSettingsMany,
      usersInternal.setChannelPreference,
      enrollmentsInternal.learnerIds,
      coursesInternal.roleOf,
      coursesInternal.enrollmentTerms,
    ],
    broadcastsTo: ['gateway'],
    events: [],
  },
  assignments: {
    note: "assignments: assessment events of assignments (item changed, submitted, graded); it checks course roles and that submitted files are the submitter's,\n    # grants the graders (and group members) read of them, and reads the names markers see.",
    services: ['assignments'],
    calls: [coursesInternal.roleOf, filesInternal.describe, filesInternal.grantRead, usersInternal.summaries],
    broadcastsTo: [],
    events: ['lms.assessment.>'],
  },
  credentials: {
    note: 'credentials: certificates (issued, revoked); it reads the names it prints from users and courses.',
    services: ['credentials'],
    calls: [usersInternal.summaries, coursesInternal.enrollmentTerms],
    broadcastsTo: [],
    events: ['lms.credential.>'],
  },
  assessments: {
    note: 'assessments: quiz authoring; the gradebook item and key-correction events (attempts serves the others of lms.assessment).',
    services: ['assessments'],
    calls: [coursesInternal.roleOf],
    broadcastsTo: [],
    events: ['lms.assessment.item_changed.v1', 'lms.assessment.question_corrected.v1'],
  },
};

/**
 * `internal` actions the runtime itself calls on every node, whatever its services: the token verifier reads role
 * changes (users.roleChanges), and a service called from an operator's REPL records the call in the audit log
 * (audit.recordOperatorCall; the gateway serves no REPL calls).
 */
export function runtimeCalls(role: string): AnyProcedure[] {
  return [usersInternal.roleChanges, ...(role === 'gateway' ? [] : [auditInternal.recordOperatorCall])];
}

/** Every action that checks its caller itself: any role may send it (the caller's token decides). */
function openActions(): string[] {
  return Object.values(SERVICES).flatMap((s) =>
    Object.values(s.contracts ?? {})
      .filter((c) => c.permission !== 'internal')
      .map((c) => c.action),
  );
}

/** Every action a service node serves, `health` included (the `events.*` operator actions are not granted to any role). */
function actionsOf(service: string): string[] {
  const s = SERVICES[service];
  if (!s) throw new Error(`nats-config: unknown service ${service}`);
  return [...Object.values(s.contracts ?? {}).map((c) => c.action), ...(s.contracts ? [`${service}.health`] : [])];
}

/** Subjects in NATS config syntax, several to a line. */
function list(subjects: string[], indent: string): string {
  const quoted = [...new Set(subjects)].map((s) => JSON.stringify(s));
  const lines: string[] = [];
  let line = '';
  for (const q of quoted) {
    if (line && line.length + q.length > 110) {
      lines.push(line);
      line = '';
    }
    line += (line ? ', ' : '') + q;
  }
  if (line) lines.push(line);
  return `[\n${lines.map((l) => `${indent}  ${l}`).join(',\n')}\n${indent}]`;
}

const JETSTREAM = [
  '$JS.API.INFO',
  '$JS.API.STREAM.NAMES',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.CREATE.*',
  '$JS.API.STREAM.UPDATE.*',
  '$JS.API.STREAM.MSG.GET.LMS_DLQ',
  '$JS.API.STREAM.MSG.DELETE.LMS_DLQ',
  '$JS.API.CONSUMER.>',
  '$JS.ACK.>',
  'lms.dlq.>',
];

/** The permissions of one role. `ns` is LMS_NAMESPACE. */
export function permissionsOf(role: string, ns = 'lms'): { publish: string[]; subscribe: string[] } {
  const r = natsRoles[role];
  if (!r) throw new Error(`nats-config: unknown role ${role}`);
  const mol = `MOL-${ns}`;
  const own = r.services.flatMap(actionsOf);
  const callable = [...openActions(), ...own, ...r.calls.map((c) => c.action), ...runtimeCalls(role).map((c) => c.action)];
  if (role === 'gateway')
    callable.push(
      ...Object.entries(SERVICES)
        .filter(([, s]) => s.contracts)
        .map(([name]) => `${name}.health`),
    ); // readiness
  const receipts = r.services
    .filter((s) => (erasureReceiptServices as readonly string[]).includes(s))
    .map((s) => erasureReceipts[s as keyof typeof erasureReceipts].subject);
  const publish = [
    ...[...new Set(callable)].sort().map((a) => `${mol}.REQB.${a}`),
    `${mol}.RES.>`,
    ...['DISCOVER', 'INFO', 'DISCONNECT', 'HEARTBEAT', 'PING'].map((t) => `${mol}.${t}`),
    ...['DISCOVER', 'INFO', 'PING', 'PONG'].map((t) => `${mol}.${t}.>`),
    ...(r.broadcastsTo === 'every' ? Object.keys(natsRoles) : r.broadcastsTo).map((to) => `${mol}.EVENT.${to}.>`),
    ...(r.events ? [...JETSTREAM, ...r.events, ...receipts].map((s) => s.replace(/^lms\./, `${ns}.`).replace(/LMS_/, `${ns.toUpperCase()}_`)) : []),
  ];
  const subscribe = [
    ...r.services.flatMap((s) => [`${mol}.REQB.${s}.>`, `${mol}.EVENTB.${s}.>`]),
    `${mol}.REQB.$node.>`,
    // The runtime's $trust service on every node (session revocations, key rotations, role changes).
    `${mol}.EVENTB.$trust.>`,
    ...['REQ', 'RES', 'EVENT', 'DISCOVER', 'INFO', 'PING', 'PONG'].map((t) => `${mol}.${t}.${role}.>`),
    ...['DISCOVER', 'INFO', 'DISCONNECT', 'HEARTBEAT', 'PING'].map((t) => `${mol}.${t}`),
    // JetStream answers and pulled messages come to the connection's inbox: `_INBOX_<role>` (events/jetstream.ts), not `_INBOX.>`.
    ...(r.events ? [`_INBOX_${role}.>`] : []),
  ];
  return { publish, subscribe };
}

/** The `authorization` block: a user per role with its permissions, and the operator. */
function renderAuthorization(ns: string): string {
  const users = Object.entries(natsRoles).map(([role, r]) => {
    const p = permissionsOf(role, ns);
    return `    # ${r.note}
    { user: ${role}, password: $NATS_${role.toUpperCase()}_PASSWORD, permissions: {
        publish: { allow: ${list(p.publish, '        ')} }
        subscribe: { allow: ${list(p.subscribe, '        ')} }
    } }
`;
  });
  return `# Roles with tables also get, from JetStream: create/update their streams and consumers, pull and ack,
# read and clear dead letters, publish dead letters, their domain events and their own erasure receipts
# (lms.privacy.<service>_erased.v1: no node can forge another service's). Never delete or purge a stream.

authorization {
  users = [
${users.join('\n')}
    # Operators (REPL, \`lms events ...\`, backups): everything.
    { user: operator, password: $NATS_OPERATOR_PASSWORD }
  ]
}
`;
}

function header(ns: string): string {
  return `# GENERATED by \`pnpm lms nats-config\` from tools/nats-config.ts (the role map) and the contracts: do not edit.
# NATS for the LMS mesh: JetStream, and one user per node role with only the subjects that role needs.
# Passwords come from the environment (NATS_<ROLE>_PASSWORD); nodes put theirs in NATS_PASSWORD with
# NATS_USER=<role>, and their node ids start with the role (\`<role>.<host>-<pid>\`).
# Assumes LMS_NAMESPACE=${ns} (Moleculer subjects MOL-${ns}.>, event subjects ${ns}.>, streams ${ns.toUpperCase()}_*).
# Moleculer runs with disableBalancer: a call to action A is published on MOL-${ns}.REQB.A, so who may publish
# there decides who may call A, and who may subscribe decides who reads its requests (tools/nats-config.ts).
`;
}

/** One NATS server (development, tests; docker-compose.yml runs the cluster, cluster.conf). */
export function renderNatsConf(ns = 'lms'): string {
  return `${header(ns)}# Exercised by tools/test/nats-auth.int.test.ts against a real nats-server.

port: 4222
http_port: 8222
jetstream {
  store_dir: "/data"
}

${renderAuthorization(ns)}`;
}

/** The servers of the cluster in docker-compose.yml (`nats-1` …), each with JetStream, routes to the others. */
export const natsClusterServers = ['nats-1', 'nats-2', 'nats-3'];

/**
 * Every server of a 3-server cluster runs this same file; what differs comes from its environment: NATS_SERVER_NAME,
 * and the routes NATS_ROUTE_1..3 (`nats-route://route:<NATS_CLUSTER_PASSWORD>@nats-<i>:6222`: a config file cannot
 * build a URL from a variable, and a route to the server itself is ignored).
 */
export function renderNatsClusterConf(ns = 'lms'): string {
  const routes = natsClusterServers.map((_, i) => `$NATS_ROUTE_${i + 1}`).join(', ');
  return `${header(ns)}# One server of the 3-server cluster (docker-compose.yml: ${natsClusterServers.join(', ')}), every one with this file.
# Exercised by tools/test/nats-cluster.int.test.ts against three real nats-servers.

server_name: $NATS_SERVER_NAME
port: 4222
http_port: 8222

jetstream {
  store_dir: "/data"
  # fsync every write before it is acknowledged. The default (a flush every 2 minutes) loses acknowledged
  # events when servers holding a majority of a stream's replicas lose power together (Jepsen, NATS 2.12.1, 2025).
  # Costs latency per publish, not throughput: the outbox relays publish in batches.
  sync_interval: always
}

# Routes between the servers: only servers that know NATS_CLUSTER_PASSWORD join (never published outside the
# compose network). Streams are replicated on 3 servers (LMS_STREAM_REPLICAS=3): any one may be lost.
cluster {
  name: ${ns}
  port: 6222
  authorization { user: route, password: $NATS_CLUSTER_PASSWORD }
  routes: [ ${routes} ]
}

${renderAuthorization(ns)}`;
}

export const natsConfPath = path.resolve(import.meta.dirname, '../infra/nats/nats.conf');

export const natsClusterConfPath = path.resolve(import.meta.dirname, '../infra/nats/cluster.conf');

/** Writes the one-server file to `out`, and the cluster's beside it (`cluster.conf`). */
export function writeNatsConf(out = natsConfPath, ns = 'lms'): string[] {
  if (!/^[a-z][a-z0-9_]*$/.test(ns)) throw new Error(`bad namespace ${ns}`);
  fs.writeFileSync(out, renderNatsConf(ns));
  const cluster = path.join(path.dirname(out), 'cluster.conf');
  fs.writeFileSync(cluster, renderNatsClusterConf(ns));
  return [out, cluster];
}

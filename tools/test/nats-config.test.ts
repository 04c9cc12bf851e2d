/**
 * infra/nats/nats.conf is generated from the contracts and the role map in tools/nats-config.ts: the committed
 * file must be what the generator writes today (a new action or event changes it), and every role must hold
 * the `internal` actions its services' code calls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeIdOf } from '@lms/runtime';
import { natsClusterConfPath, natsConfPath, natsRoles, permissionsOf, renderNatsClusterConf, renderNatsConf, runtimeCalls } from '../nats-config.ts';
import { SERVICES } from '../services.ts';
import { defined } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
/** `llmWorker` (a contracts variable `llmWorkerInternal`) → `llm-worker` (its service and action prefix). */
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'migrations' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [fs.readFileSync(p, 'utf8')] : [];
  });
}

describe('nats.conf', () => {
  it('is what `pnpm lms nats-config` writes (run it after changing contracts or roles)', () => {
    expect(fs.readFileSync(natsConfPath, 'utf8')).toBe(renderNatsConf());
  });

  it('gives every server of the cluster (cluster.conf) the same users and permissions as the single server', () => {
    expect(fs.readFileSync(natsClusterConfPath, 'utf8')).toBe(renderNatsClusterConf());
    const users = (conf: string) => conf.slice(conf.indexOf('\nauthorization {'));
    expect(users(renderNatsClusterConf())).toBe(users(renderNatsConf()));
  });

  it('deploys every service under exactly one role', () => {
    const deployed = Object.values(natsRoles).flatMap((r) => r.services);
    expect([...deployed].sort()).toEqual(Object.keys(SERVICES).sort());
  });

  it('lets each role publish the requests of every internal action its services call, and no other internal one', () => {
    const internal = new Set(
      Object.values(SERVICES).flatMap((s) =>
        Object.values(s.contracts ?? {})
          .filter((c) => c.permission === 'internal')
          .map((c) => c.action),
      ),
    );
    for (const [role, r] of Object.entries(natsRoles)) {
      const publish = new Set(permissionsOf(role).publish);
      const used = new Set(
        r.services
          .flatMap((s) => sources(path.join(root, 'services', s, 'src')))
          .flatMap((src) =>
            [...src.matchAll(/\b([a-z][a-zA-Z]*)Internal\.(\w+)\b/g)].map((m) => `${kebab(m[1] ?? '')}.${m[2]}`).filter((a) => internal.has(a)),
          ),
      );
      for (const a of used) expect(publish.has(`MOL-lms.REQB.${a}`), `${role} calls ${a}`).toBe(true);
      const granted = [...internal].filter((a) => publish.has(`MOL-lms.REQB.${a}`));
      for (const a of granted) {
        const mine = r.services.includes(defined(a.split('.')[0]));
        expect(
          mine || used.has(a) || a.endsWith('.privacyExport') || runtimeCalls(role).some((c) => c.action === a),
          `${role} may call ${a} but never does`,
        ).toBe(true);
      }
    }
  });

  it('gives the gateway no broadcast, no direct request, no JetStream, no operator action', () => {
    const { publish, subscribe } = permissionsOf('gateway');
    expect(publish.filter((s) => /^MOL-lms\.(EVENT|EVENTB|REQ)\./.test(s))).toEqual([]);
    expect(publish.filter((s) => !s.startsWith('MOL-lms.'))).toEqual([]);
    expect(publish.filter((s) => /\.events\.|\$node/.test(s))).toEqual([]);
    expect(subscribe.filter((s) => s.startsWith('_INBOX'))).toEqual([]);
    expect(publish).not.toContain('MOL-lms.REQB.users.byId');
    expect(publish).toContain('MOL-lms.REQB.files.register');
  });

  it('gives a node with NATS credentials an id that starts with its role, so its own subjects are `<TYPE>.<role>.>`', () => {
    expect(nodeIdOf({ nodeId: 'host-1', natsUser: 'courses' })).toBe('courses.host-1');
    expect(nodeIdOf({ nodeId: 'courses.host-1', natsUser: 'courses' })).toBe('courses.host-1');
    expect(nodeIdOf({ nodeId: 'host-1', natsUser: undefined })).toBe('host-1');
    expect(nodeIdOf({ nodeId: undefined, natsUser: 'gateway' })).toMatch(/^gateway\.[^.].*-\d+$/);
  });
});

/**
 * Every service in the registry (tools/services.ts) is known everywhere it must be (docs/adding-a-service.md): a
 * node in docker-compose.yml, a NATS role (tools/nats-config.ts) with its user in infra/nats/nats.conf, the privacy
 * fan-out when it keeps personal data, its own README, and the README's list. Reads files only: no servers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { erasureReceiptServices, privacyParticipants, userEvents } from '@lms/contracts';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { natsRoles } from '../nats-config.ts';
import { SERVICES } from '../services.ts';
import { defined } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');
const names = Object.keys(SERVICES);

/** The services each LMS node of docker-compose.yml runs (`node --services a,b`). */
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { command?: unknown[] }> };
const deployed = Object.values(compose.services).flatMap((s) => (Array.isArray(s.command) && s.command[0] === 'node' ? String(s.command[2]).split(',') : []));

/**
 * Columns that hold someone's personal data or point at a person. A service whose migrations create one keeps
 * personal data: it takes part in exports and erasures.
 */
const PERSONAL_COLUMN = /addColumn\(\s*'(user_id|email|owner_id|actor_id|learner_id|author_id|by|[a-z_]+_by)'/;
function keepsPersonalData(service: string): boolean {
  const dir = path.join(root, 'services', service, 'src', 'migrations');
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir).some((f) => f.endsWith('.ts') && PERSONAL_COLUMN.test(fs.readFileSync(path.join(dir, f), 'utf8')));
}

const PARTICIPANTS: readonly string[] = privacyParticipants;
const RECEIPTS: readonly string[] = erasureReceiptServices;
/** The service that runs privacy requests: it erases in the request's own transaction and sends itself no receipt. */
const COORDINATOR = 'users';

describe.each(names)('service %s', (name) => {
  it('has its own package folder and README', () => {
    expect(fs.existsSync(path.join(root, 'services', name, 'package.json')), `services/${name}/package.json`).toBe(true);
    const readme = path.join(root, 'services', name, 'README.md');
    expect(fs.existsSync(readme), `services/${name}/README.md`).toBe(true);
    expect(fs.readFileSync(readme, 'utf8').length, `services/${name}/README.md says something`).toBeGreaterThan(200);
  });

  it('runs on a node of docker-compose.yml', () => {
    expect(deployed, `no node in docker-compose.yml runs "${name}" (command: ["node", "--services", "…,${name}"])`).toContain(name);
  });

  it('belongs to exactly one NATS role, which has a user in infra/nats/nats.conf', () => {
    const roles = Object.entries(natsRoles).filter(([, r]) => r.services.includes(name));
    expect(
      roles.map(([role]) => role),
      `tools/nats-config.ts natsRoles: one role must list "${name}"`,
    ).toHaveLength(1);
    const conf = read('infra/nats/nats.conf');
    expect(conf, `infra/nats/nats.conf has no user ${defined(roles[0], `a NATS role for ${name}`)[0]}: run \`pnpm lms nats-config\``).toMatch(
      new RegExp(`\\{ user: ${defined(roles[0], `a NATS role for ${name}`)[0]},`),
    );
  });

  it('is listed in the README', () => {
    const layout = read('README.md')
      .split('\n')
      .find((l) => l.startsWith('services/'));
    expect(layout, 'README.md Layout has a services/ line').toBeDefined();
    expect(defined(layout, 'the services/ line of README.md Layout').split(/[\s,]+/), `README.md Layout: the services/ line names "${name}"`).toContain(name);
  });

  const personal = keepsPersonalData(name);
  it(`${personal ? 'keeps personal data: takes part in exports and erasures' : 'keeps no personal data'}`, () => {
    const mod = defined(SERVICES[name], `service ${name}`);
    if (!personal) {
      expect(PARTICIPANTS, `"${name}" keeps no personal data (no user_id/email/owner_id… column) yet is a privacy participant`).not.toContain(name);
      return;
    }
    expect(PARTICIPANTS, `contracts/src/privacy.ts privacyParticipants must list "${name}" (its tables hold personal data)`).toContain(name);
    expect(Object.keys(mod.contracts ?? {}), `"${name}" serves privacyExportContract('${name}')`).toContain('privacyExport');
    if (name === COORDINATOR) return;
    expect(RECEIPTS, `contracts/src/privacy.ts erasureReceiptServices must list "${name}"`).toContain(name);
    expect(
      mod.consumers.some((c) => c.event.subject === userEvents.deleted.subject),
      `"${name}" consumes ${userEvents.deleted.subject} to erase what it holds`,
    ).toBe(true);
  });
});

describe('the registry', () => {
  it('names every privacy participant and every erasure receipt sender', () => {
    for (const p of PARTICIPANTS) expect(names, `privacy participant "${p}" is not in tools/services.ts`).toContain(p);
    for (const r of RECEIPTS) expect(PARTICIPANTS, `erasure receipt sender "${r}" is not a privacy participant`).toContain(r);
  });

  it('names every service a NATS role or a compose node runs', () => {
    for (const [role, r] of Object.entries(natsRoles)) for (const s of r.services) expect(names, `NATS role ${role} runs unknown "${s}"`).toContain(s);
    for (const s of deployed) expect(names, `docker-compose.yml runs unknown "${s}"`).toContain(s);
  });

  it('has every service folder registered', () => {
    const folders = fs.readdirSync(path.join(root, 'services')).filter((d) => d !== 'runtime' && fs.existsSync(path.join(root, 'services', d, 'package.json')));
    expect(folders.sort(), 'a services/<name> package missing from tools/services.ts').toEqual([...names].sort());
  });

  it('is described in docs/adding-a-service.md', () => {
    const doc = read('docs/adding-a-service.md');
    for (const place of [
      'tools/services.ts',
      'docker-compose.yml',
      'tools/nats-config.ts',
      'pnpm lms nats-config',
      'erasureReceiptServices',
      'privacyParticipants',
      'README.md',
    ]) {
      expect(doc, `docs/adding-a-service.md mentions ${place}`).toContain(place);
    }
    expect(read('README.md'), 'README.md links docs/adding-a-service.md').toContain('docs/adding-a-service.md');
  });
});

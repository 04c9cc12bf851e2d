/** Brute-force throttling of password logins: per account and per IP, without telling who has an account. */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http } from './support.ts';

let node: LmsNode;
let base: string;

beforeAll(async () => {
  process.env.AUTH_LOGIN_MAX_FAILURES_PER_IP = '12';
  process.env.TRUST_PROXY = 'true'; // so that the test can speak from several client IPs
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  await http(base, 'POST', '/api/v1/auth/register', { email: 'vic@throttle.test', password: 'the right password', displayName: 'Vic' });
});
afterAll(async () => {
  delete process.env.AUTH_LOGIN_MAX_FAILURES_PER_IP;
  delete process.env.TRUST_PROXY;
  await node?.stop();
});

const attempt = (email: string, password: string, ip: string) =>
  http(base, 'POST', '/api/v1/auth/login', { email, password }, undefined, { 'x-forwarded-for': ip });

describe('login throttling', () => {
  it('locks an account after 5 failures, even for the right password, and says when to retry', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await attempt('vic@throttle.test', `wrong password ${i}`, '10.0.0.1')).status);
    expect(codes).toEqual([401, 401, 401, 401, 401]);
    const locked = await attempt('vic@throttle.test', 'the right password', '10.0.0.1');
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('RATE_LIMITED');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers an unknown email exactly like a known one', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await attempt('nobody@throttle.test', `wrong password ${i}`, '10.0.0.2')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const known = await attempt('vic@throttle.test', 'wrong again', '10.0.0.3');
    const unknown = await attempt('nobody@throttle.test', 'wrong again', '10.0.0.3');
    expect(unknown.status).toBe(known.status);
    expect(unknown.body.error.message).toBe(known.body.error.message);
  });

  it('locks out an IP that tries many accounts (credential stuffing), not other IPs', async () => {
    for (let i = 0; i < 12; i++) expect((await attempt(`user${i}@stuffing.test`, 'password123456', '10.0.0.9')).status).toBe(401);
    expect((await attempt('user99@stuffing.test', 'password123456', '10.0.0.9')).status).toBe(429);
    expect((await attempt('user99@stuffing.test', 'password123456', '10.0.0.10')).status).toBe(401);
  });
});

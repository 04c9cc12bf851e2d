/** Trace context crosses the edge and every service call (ctx.meta.trace), so a request is one trace. */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http } from './support.ts';

const exporter = new InMemorySpanExporter();
let node: LmsNode;
let base: string;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
});
afterAll(async () => {
  await node?.stop();
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('tracing', () => {
  it('continues the caller’s traceparent through the gateway and nested service calls', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;
    const r = await http(base, 'POST', '/api/v1/auth/register', { email: 'trace@example.com', password: 'a followed password', displayName: 'T' }, undefined, {
      traceparent,
    });
    expect(r.status).toBe(201);
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(['rest auth.register', 'auth.register', 'users.create']));
    const parentOf = (name: string) => defined(byName[name]).parentSpanContext?.spanId;
    expect(parentOf('rest auth.register')).toBe('00f067aa0ba902b7');
    expect(parentOf('auth.register')).toBe(defined(byName['rest auth.register']).spanContext().spanId);
    expect(parentOf('users.create')).toBe(defined(byName['auth.register']).spanContext().spanId);
  });

  it('starts a trace when the client sends none, and ignores a malformed traceparent', async () => {
    exporter.reset();
    await http(base, 'GET', '/api/v1/me', undefined, undefined, { traceparent: 'garbage' });
    const [edge] = exporter.getFinishedSpans().filter((s) => s.name === 'rest users.me');
    expect(edge).toBeDefined();
    expect(defined(edge).spanContext().traceId).toMatch(/^[\da-f]{32}$/);
    expect(defined(edge).parentSpanContext?.spanId).toBeUndefined();
  });
});

import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';

/**
 * Trace context across the mesh. The W3C `traceparent` travels in `ctx.meta.trace`, so a request's
 * spans on the gateway and on every service it reaches form one trace. Without an SDK registered
 * (OTEL_EXPORTER_OTLP_ENDPOINT unset) every call here is a cheap no-op.
 */
const tracer = trace.getTracer('lms');

export type TraceCarrier = Record<string, string>;

/** Runs `fn` in a span that continues the trace in `carrier` (or starts one). */
export function inSpan<T>(
  name: string,
  carrier: TraceCarrier | undefined,
  attributes: Attributes,
  fn: () => Promise<T>,
  kind: SpanKind = SpanKind.SERVER,
): Promise<T> {
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  return context.with(parent, () =>
    tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
      try {
        return await fn();
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    }),
  );
}

/** The current span's context, to put in `ctx.meta.trace` of an outgoing call. */
export function traceCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length ? carrier : undefined;
}

/** The incoming `traceparent`/`tracestate` headers, if any. */
export function carrierFromHeaders(headers: Record<string, string | string[] | undefined>): TraceCarrier | undefined {
  const tp = headers.traceparent;
  if (typeof tp !== 'string' || !/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/.test(tp)) return undefined;
  const ts = headers.tracestate;
  return typeof ts === 'string' && ts.length < 512 ? { traceparent: tp, tracestate: ts } : { traceparent: tp };
}

export { SpanKind };

export * from './ollama-client.ts';
export * from './circuit-breaker.ts';
export * from './lanes.ts';
export * from './quota.ts';
export * from './routing.ts';

/**
 * The broker options live in the runtime (services/runtime/src/broker-options.ts), which every node imports;
 * this file re-exports them for tools that look for a moleculer.config at the root (Moleculer's runner, REPL).
 */
export { default, nodeIdOf } from './services/runtime/src/broker-options.ts';

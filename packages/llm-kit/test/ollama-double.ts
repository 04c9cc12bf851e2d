/**
 * A TEST DOUBLE OF OLLAMA — not Ollama. No Ollama and no chat model can run where these tests run, so this is a small
 * HTTP server speaking the part of Ollama's API the worker uses, with deterministic replies; it says nothing about
 * answer quality, which is only measured against a real Ollama.
 *
 * - `GET /api/tags`: the models in `models` (mutable: a test "pulls" one by pushing its name).
 * - `POST /api/chat` with `stream: true`: NDJSON, one chunk per word of `reply(messages)` (default: "echo: <last user
 *   message>"), every `tokenDelayMs`, then a `done` chunk with `prompt_eval_count` (words in) and `eval_count` (words
 *   out). A missing model answers 404 `{ error }` as Ollama does. Model `fail-midway` breaks the stream after 2 tokens.
 * - `POST /api/embed`: `[length, vowels, 1, 0…]` per input (8 dimensions).
 * - `down()` / `up()`: refuse connections (the server closes) and listen again on the same port.
 * - `cancelled`: how many chats the client closed before `done` (a disconnect reached Ollama).
 */
import http from 'node:http';
import { type AddressInfo } from 'node:net';

export interface OllamaDouble {
  url: string;
  models: string[];
  tokenDelayMs: number;
  chats: number;
  cancelled: number;
  /** Chats that started, by the first word of their last user message (tests tell lanes apart by it). */
  order: string[];
  reply: (last: string) => string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startOllamaDouble(opts: { models?: string[]; tokenDelayMs?: number } = {}): Promise<OllamaDouble> {
  const sockets = new Set<import('node:net').Socket>();
  const state: OllamaDouble = {
    url: '',
    models: opts.models ?? ['chat-model:latest', 'embed-model:latest'],
    tokenDelayMs: opts.tokenDelayMs ?? 0,
    chats: 0,
    cancelled: 0,
    order: [],
    reply: (last) => `echo: ${last}`,
    down: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
    up: async () => {
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const has = (m: string) => state.models.some((n) => n === m || n === `${m}:latest`);
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/api/tags') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ models: state.models.map((name) => ({ name, model: name })) }));
        return;
      }
      const body = raw ? (JSON.parse(raw) as { model: string; messages?: Array<{ role: string; content: string }>; input?: string[] | string }) : { model: '' };
      if (req.method !== 'POST' || (req.url !== '/api/chat' && req.url !== '/api/embed')) {
        res.writeHead(404).end('404 page not found');
        return;
      }
      if (!has(body.model) && body.model !== 'fail-midway') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `model "${body.model}" not found, try pulling it first` }));
        return;
      }
      if (req.url === '/api/embed') {
        const inputs = Array.isArray(body.input) ? body.input : [body.input ?? ''];
        const embeddings = inputs.map((t) => [t.length, (t.match(/[aeiou]/g) ?? []).length, 1, 0, 0, 0, 0, 0]);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model: body.model, embeddings }));
        return;
      }
      const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
      state.chats += 1;
      state.order.push(last.split(/\s+/)[0] ?? '');
      const words = state.reply(last).split(/(?<= )/);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      let i = 0;
      let finished = false;
      res.on('close', () => {
        if (!finished) state.cancelled += 1;
      });
      const next = () => {
        if (res.destroyed) return;
        if (body.model === 'fail-midway' && i === 2) {
          finished = true;
          res.destroy();
          return;
        }
        if (i < words.length) {
          res.write(JSON.stringify({ model: body.model, message: { role: 'assistant', content: words[i] }, done: false }) + '\n');
          i += 1;
          setTimeout(next, state.tokenDelayMs);
          return;
        }
        finished = true;
        const inCount = (body.messages ?? []).reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length, 0);
        res.end(
          JSON.stringify({
            model: body.model,
            message: { role: 'assistant', content: '' },
            done: true,
            done_reason: 'stop',
            prompt_eval_count: inCount,
            eval_count: words.length,
          }) + '\n',
        );
      };
      next();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${port}`;
  return state;
}

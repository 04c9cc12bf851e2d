import net from 'node:net';
import type { Readable } from 'node:stream';

/**
 * Streams bytes to clamd with the INSTREAM command (length-prefixed chunks, a zero-length chunk to end) and
 * reads its verdict: `stream: OK` or `stream: <signature> FOUND`. Throws when clamd cannot be reached or
 * answers anything else (the job retries; the file is not marked clean).
 */
export function scan(body: Readable, at: { host: string; port: number }, timeoutMs = 60_000): Promise<{ clean: true } | { clean: false; signature: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(at.port, at.host);
    let reply = '';
    const fail = (err: Error) => {
      socket.destroy();
      body.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error('clamd timed out')));
    socket.on('error', fail);
    socket.on('data', (d) => (reply += d.toString('utf8')));
    socket.on('end', () => {
      const text = reply.replace(/\0/g, '').trim();
      const found = /^stream: (.+) FOUND$/.exec(text);
      if (text === 'stream: OK') resolve({ clean: true });
      else if (found?.[1]) resolve({ clean: false, signature: found[1] });
      else reject(new Error(`clamd said: ${text.slice(0, 200)}`));
    });
    // The stream is written by a detached async body; its own catch settles the promise on any failure.
    socket.once(
      'connect',
      () =>
        void (async () => {
          try {
            socket.write('zINSTREAM\0');
            for await (const chunk of body) {
              const b = chunk as Buffer;
              const len = Buffer.alloc(4);
              len.writeUInt32BE(b.length);
              if (!socket.write(Buffer.concat([len, b]))) await new Promise((r) => socket.once('drain', r));
            }
            socket.end(Buffer.alloc(4));
          } catch (err) {
            fail(err as Error);
          }
        })(),
    );
  });
}

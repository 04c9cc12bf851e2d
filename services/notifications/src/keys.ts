import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { generateVapidKeys } from './channels.js';
import type { KeysRepository } from './repository/keys.repository.js';

/** Signs one-click unsubscribe links: `<userId>.<type>.<hmac>` (NOTIFY_SECRET, or a key generated and kept here). */
export class UnsubscribeSigner {
  private key: Promise<Buffer> | undefined;
  constructor(
    private readonly keys: KeysRepository,
    /** NOTIFY_SECRET; unset: a key generated once per install and kept. */
    private readonly configured: string | undefined,
  ) {}
  private secret(): Promise<Buffer> {
    return (this.key ??= this.configured
      ? Promise.resolve(Buffer.from(this.configured))
      : this.keys.kept(1, () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64')));
  }
  private async mac(userId: string, type: string): Promise<string> {
    return createHmac('sha256', await this.secret())
      .update(`unsubscribe.${userId}.${type}`)
      .digest('base64url');
  }
  async token(userId: string, type: string): Promise<string> {
    return `${userId}.${type}.${await this.mac(userId, type)}`;
  }
  async check(token: string): Promise<{ userId: string; type: string } | undefined> {
    const [userId, type, sig] = token.split('.');
    if (!userId || !type || !sig) return undefined;
    const want = Buffer.from(await this.mac(userId, type));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got) ? { userId, type } : undefined;
  }
}

export interface Vapid {
  subject: string;
  publicKey: string;
  privateKey: string;
}

/** VAPID keys: VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY, or a pair generated once per install and kept. */
export function vapidKeys(
  keys: KeysRepository,
  config: { VAPID_PUBLIC_KEY?: string; VAPID_PRIVATE_KEY?: string; VAPID_SUBJECT?: string; MAIL_FROM: string },
): () => Promise<Vapid> {
  let v: Promise<Vapid> | undefined;
  const subject = config.VAPID_SUBJECT ?? `mailto:${config.MAIL_FROM.replace(/^.*<|>.*$/g, '')}`;
  const { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey } = config;
  return () =>
    (v ??= (async () => {
      if (publicKey && privateKey) return { subject, publicKey, privateKey };
      const pair = JSON.parse(await keys.kept(2, () => JSON.stringify(generateVapidKeys()))) as { publicKey: string; privateKey: string };
      return { subject, ...pair };
    })());
}

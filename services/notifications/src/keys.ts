import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { generateVapidKeys } from './channels.js';
import type { NotificationsDB } from './db.js';

/** A secret made once per install and kept in `keys` (the first node to start writes it; the others read it). */
async function kept(db: Kysely<NotificationsDB>, id: number, make: () => string): Promise<string> {
  await db.insertInto('keys').values({ id, key: make() }).onConflict((oc) => oc.column('id').doNothing()).execute();
  return (await db.selectFrom('keys').select('key').where('id', '=', id).executeTakeFirstOrThrow()).key;
}

/** Signs one-click unsubscribe links: `<userId>.<type>.<hmac>` (NOTIFY_SECRET, or a key generated and kept here). */
export class UnsubscribeSigner {
  private key: Promise<Buffer> | undefined;
  constructor(private readonly db: Kysely<NotificationsDB>) {}
  private secret(): Promise<Buffer> {
    return (this.key ??= process.env.NOTIFY_SECRET
      ? Promise.resolve(Buffer.from(process.env.NOTIFY_SECRET))
      : kept(this.db, 1, () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64')));
  }
  private async mac(userId: string, type: string): Promise<string> {
    return createHmac('sha256', await this.secret()).update(`unsubscribe.${userId}.${type}`).digest('base64url');
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
export function vapidKeys(db: Kysely<NotificationsDB>): () => Promise<Vapid> {
  let v: Promise<Vapid> | undefined;
  const subject = () => process.env.VAPID_SUBJECT ?? `mailto:${(process.env.MAIL_FROM ?? 'no-reply@localhost').replace(/^.*<|>.*$/g, '')}`;
  return () =>
    (v ??= (async () => {
      if (process.env.VAPID_PUBLIC_KEY && process.env.VAPID_PRIVATE_KEY) return { subject: subject(), publicKey: process.env.VAPID_PUBLIC_KEY, privateKey: process.env.VAPID_PRIVATE_KEY };
      const pair = JSON.parse(await kept(db, 2, () => JSON.stringify(generateVapidKeys()))) as { publicKey: string; privateKey: string };
      return { subject: subject(), ...pair };
    })());
}

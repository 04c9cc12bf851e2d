/**
 * Push endpoints are user-supplied URLs (SSRF): every spelling of a private address is refused. The table is
 * generated: each private range, sampled at its edges and inside, in every encoding an IPv6 stack or a URL
 * parser accepts for it (dotted, IPv4-mapped dotted and hex, fully expanded, IPv4-compatible, NAT64, 6to4,
 * and decimal/octal/hex IPv4 literals in URLs).
 */
import { describe, expect, it } from 'vitest';
import { isPrivateAddress, pushAgent } from '../src/channels.ts';

type V4 = [number, number, number, number];
const v4 = (n: number): V4 => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const int = ([a, b, c, d]: V4) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
/** First, second, middle, second-to-last and last address of a CIDR range. */
function samples(cidr: string): V4[] {
  const [base, bits] = cidr.split('/') as [string, string];
  const first = int(base.split('.').map(Number) as V4);
  const size = 2 ** (32 - Number(bits));
  return [...new Set([0, 1, Math.floor(size / 2), size - 2, size - 1])].filter((o) => o >= 0 && o < size).map((o) => v4(first + o));
}

const dotted = (a: V4) => a.join('.');
const hex16 = (a: V4): [string, string] => [((a[0] << 8) | a[1]).toString(16), ((a[2] << 8) | a[3]).toString(16)];
const pad = (h: string) => h.padStart(4, '0');
/** Every IPv6 (and URL) spelling of an IPv4 address. */
function encodings(a: V4): string[] {
  const [hi, lo] = hex16(a);
  return [
    dotted(a),
    `::ffff:${dotted(a)}`, // mapped, dotted
    `::ffff:${hi}:${lo}`, // mapped, hex
    `::FFFF:${hi.toUpperCase()}:${lo.toUpperCase()}`,
    `0:0:0:0:0:ffff:${dotted(a)}`, // expanded
    `0000:0000:0000:0000:0000:ffff:${pad(hi)}:${pad(lo)}`,
    `0:0:0:0:0:ffff:${hi}:${lo}`,
    `::${dotted(a)}`, // compatible
    `::${hi}:${lo}`,
    `0:0:0:0:0:0:${dotted(a)}`,
    `64:ff9b::${dotted(a)}`, // NAT64
    `64:ff9b::${hi}:${lo}`,
    `0064:ff9b:0000:0000:0000:0000:${pad(hi)}:${pad(lo)}`,
    `2002:${hi}:${lo}::`, // 6to4
    `2002:${hi}:${lo}::1`,
  ];
}
/** IPv4 spellings a URL parser turns into the dotted address: decimal, hex, octal, short forms. */
function urlSpellings(a: V4): string[] {
  const n = int(a);
  return [
    String(n),
    `0x${n.toString(16)}`,
    `0${n.toString(8)}`,
    a.map((x) => `0x${x.toString(16)}`).join('.'),
    a.map((x) => `0${x.toString(8)}`).join('.'),
    `${a[0]}.${(a[1] << 16) | (a[2] << 8) | a[3]}`,
    `0x${a[0].toString(16)}.${(a[1] << 16) | (a[2] << 8) | a[3]}`,
  ];
}

const privateV4: Record<string, string> = {
  'this network': '0.0.0.0/8',
  loopback: '127.0.0.0/8',
  'private 10/8': '10.0.0.0/8',
  'private 172.16/12': '172.16.0.0/12',
  'private 192.168/16': '192.168.0.0/16',
  'link-local, cloud metadata': '169.254.0.0/16',
  CGNAT: '100.64.0.0/10',
  multicast: '224.0.0.0/4',
  'reserved, broadcast': '240.0.0.0/4',
  benchmarking: '198.18.0.0/15',
};
const privateV6: Record<string, string[]> = {
  loopback: ['::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001'],
  unspecified: ['::', '0:0:0:0:0:0:0:0'],
  'unique local fc00::/7': ['fc00::', 'fc00::1', 'fd00::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'FD12:3456::1'],
  'link-local fe80::/10': ['fe80::', 'fe80::1', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'FE80:0000:0000:0000:0000:0000:0000:0001'],
  multicast: ['ff00::', 'ff02::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
};
const publicV4 = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.15.255.255',
  '172.32.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '169.253.255.255',
  '11.0.0.0',
  '223.255.255.255',
];
const publicV6 = ['2606:4700:4700::1111', '2a00:1450:4001:82a::200e', '2001:4860:4860::8888'];

const v4Table = Object.entries(privateV4).flatMap(([range, cidr]) => samples(cidr).flatMap((a) => encodings(a).map((ip) => ({ range, cidr, ip }))));
const v6Table = Object.entries(privateV6).flatMap(([range, ips]) => ips.map((ip) => ({ range, ip })));
const urlTable = Object.entries(privateV4).flatMap(([range, cidr]) =>
  samples(cidr).flatMap((a) => urlSpellings(a).map((host) => ({ range, host, dotted: dotted(a) }))),
);

describe('isPrivateAddress', () => {
  it('covers a generated table of every range in every encoding', () => {
    expect(v4Table.length).toBeGreaterThan(500);
    const missed = [...v4Table, ...v6Table].filter((x) => !isPrivateAddress(x.ip));
    expect(missed).toEqual([]);
  });

  it('lets public addresses through, however spelt', () => {
    const pub = publicV4.flatMap((ip) => [
      ip,
      `::ffff:${ip}`,
      `0:0:0:0:0:ffff:${ip}`,
      `64:ff9b::${ip}`,
      `::ffff:${hex16(ip.split('.').map(Number) as V4).join(':')}`,
    ]);
    expect([...pub, ...publicV6].filter((ip) => isPrivateAddress(ip))).toEqual([]);
  });

  it('treats what is not an address as private (fail closed)', () => {
    expect(['', 'localhost', '::ffff:999.0.0.1', '1.2.3', 'fe80::1%eth0x', '[::1'].every(isPrivateAddress)).toBe(true);
  });
});

describe('push endpoints', () => {
  // pushAgent() refuses private addresses unless told otherwise (PUSH_ALLOW_PRIVATE, read by the service's config).

  it('refuses every bracketed IPv6 spelling of a private address in a URL', () => {
    const push = pushAgent();
    try {
      const urls = [...v4Table.filter((x) => x.ip.includes(':')), ...v6Table].map((x) => `https://[${x.ip}]:8443/push/abc`);
      expect(urls.filter((u) => push.refuses(u) === undefined)).toEqual([]);
      // The endpoints the issue names.
      for (const host of [
        '[::ffff:127.0.0.1]',
        '[::ffff:7f00:1]',
        '[0:0:0:0:0:ffff:127.0.0.1]',
        '[::ffff:169.254.169.254]',
        '[::127.0.0.1]',
        '[64:ff9b::127.0.0.1]',
      ]) {
        expect(push.refuses(`https://${host}/push`)).toMatch(/private address/);
      }
    } finally {
      push.agent.destroy();
    }
  });

  it('refuses decimal, octal and hex IPv4 literals, which the URL parser normalises', () => {
    const push = pushAgent();
    try {
      expect(urlTable.length).toBeGreaterThan(300);
      const through = urlTable.filter((x) => push.refuses(`https://${x.host}/push`) === undefined);
      expect(through).toEqual([]);
      expect(push.refuses('https://2130706433/push')).toMatch(/127\.0\.0\.1 is a private address/);
      expect(push.refuses('https://0x7f.1/push')).toMatch(/127\.0\.0\.1 is a private address/);
    } finally {
      push.agent.destroy();
    }
  });

  it('lets public endpoints through (to the connection-time DNS check for names)', () => {
    const push = pushAgent();
    try {
      for (const u of [
        'https://fcm.googleapis.com/fcm/send/x',
        'https://8.8.8.8/push',
        'https://[2606:4700:4700::1111]/push',
        'https://[::ffff:8.8.8.8]/push',
      ]) {
        expect(push.refuses(u)).toBeUndefined();
      }
    } finally {
      push.agent.destroy();
    }
  });
});

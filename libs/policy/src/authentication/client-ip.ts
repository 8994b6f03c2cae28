import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';

/** A compiled `TRUST_PROXY` setting. */
export type TrustFunction = (addr: string, hop: number) => boolean;

/** Trusts no proxy: the client is the socket's peer, and `X-Forwarded-For` is not even read. */
const TRUST_NONE: TrustFunction = () => false;

/**
 * Compiles the trust setting: `false` (default: trust no proxy, use the socket address), `true` (trust every hop),
 * a hop count, or CIDR/address list (also a comma-separated string, and `loopback`/`linklocal`/`uniquelocal`).
 * @throws Error naming `trustProxy` when the value is malformed.
 */
export function compileTrustProxy(setting: boolean | number | string | string[] | undefined): TrustFunction {
  if (setting === undefined || setting === false || setting === 'false' || setting === '') return TRUST_NONE;
  if (setting === true || setting === 'true') return () => true;
  if (typeof setting === 'number' || (typeof setting === 'string' && /^\d+$/.test(setting))) {
    const hops = Number(setting);
    return (_addr, hop) => hop < hops;
  }
  const list = Array.isArray(setting) ? setting : setting.split(',').map((s) => s.trim());
  try {
    return proxyaddr.compile(list);
  } catch (err) {
    throw new Error(`trustProxy: ${(err as Error).message}`, { cause: err });
  }
}

interface RawRequestLike {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  connection?: { remoteAddress?: string };
}

/** Most `X-Forwarded-For` entries walked: a longer header than any real proxy chain is not read further. */
const MAX_FORWARDED_HOPS = 32;

/** The `X-Forwarded-For` entries, nearest hop first, at most {@link MAX_FORWARDED_HOPS}. */
function forwardedFor(raw: RawRequestLike): string[] {
  const header = raw.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return [];
  const entries: string[] = [];
  let end = value.length;
  // Walk from the end (the nearest hop) without splitting a huge header into a huge array.
  while (end >= 0 && entries.length < MAX_FORWARDED_HOPS) {
    const start = value.lastIndexOf(',', end - 1);
    entries.push(value.slice(start + 1, end).trim());
    if (start < 0) break;
    end = start;
  }
  return entries;
}

/**
 * The client address of a raw Node request, honouring `X-Forwarded-For` only as far as the trust setting allows.
 * Walking from the socket's peer, each trusted hop hands over to the address it forwarded for; an entry that is not
 * an IP address (`junk`, `1.2.3.4:80`, empty, overlong) stops the walk at the proxy that sent it, so a forged value
 * can never make a fresh rate-limit bucket.
 */
export function clientIp(raw: RawRequestLike, trust: TrustFunction): string {
  let addr = normalizeIp(raw.socket?.remoteAddress ?? raw.connection?.remoteAddress ?? '');
  if (trust === TRUST_NONE) return addr;
  const hops = forwardedFor(raw);
  for (let hop = 0; hop < hops.length; hop++) {
    const next = hops[hop];
    if (next.length > 45 || isIP(next) === 0 || !trusts(trust, addr, hop)) break;
    addr = normalizeIp(next);
  }
  return addr;
}

function trusts(trust: TrustFunction, addr: string, hop: number): boolean {
  try {
    return isIP(addr) !== 0 && trust(addr, hop);
  } catch {
    return false;
  }
}

/**
 * An address as the client's: an IPv6 zone id (`fe80::1%eth0`, which names an interface of the host that saw the
 * address, not a client) is dropped, and an IPv4-mapped IPv6 address in any of its forms (`::ffff:203.0.113.7`,
 * `::FFFF:cb00:7107`, `0:0:0:0:0:ffff:203.0.113.7`) becomes its IPv4 address; other strings pass through.
 */
export function normalizeIp(addr: string): string {
  const zone = addr.indexOf('%');
  const bare = zone >= 0 && isIP(addr) === 6 ? addr.slice(0, zone) : addr;
  if (!bare.includes(':')) return bare;
  if (bare.toLowerCase().startsWith('::ffff:') && isIP(bare.slice(7)) === 4) return bare.slice(7);
  const groups = ipv6Groups(bare);
  if (groups && groups[5] === 0xffff && groups.slice(0, 5).every((g) => g === 0)) {
    return `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
  }
  return bare;
}

/** The eight 16-bit groups of an IPv6 address without a zone id (a dotted IPv4 tail included); null otherwise. */
function ipv6Groups(addr: string): number[] | null {
  if (isIP(addr) !== 6 || addr.includes('%')) return null;
  let text = addr;
  const last = text.lastIndexOf(':');
  const tail = text.slice(last + 1);
  if (tail.includes('.')) {
    const [a, b, c, d] = tail.split('.').map(Number);
    text = `${text.slice(0, last + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const missing = rest === undefined ? 0 : 8 - left.length - right.length;
  if (missing < 0) return null;
  const groups = [...left, ...Array<string>(missing).fill('0'), ...right].map((g) => parseInt(g || '0', 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/** The trackers of the addresses seen last (several steps of a request ask for the same one), up to 10,000. */
const trackers = new Map<string, string>();
const MAX_TRACKERS = 10_000;

/**
 * The rate-limit tracker of an address: IPv4 as is, IPv6 grouped by its /64 network (one subscriber usually
 * holds a whole /64, so counting single IPv6 addresses is trivially evaded).
 */
export function ipTracker(address: string): string {
  const known = trackers.get(address);
  if (known !== undefined) return known;
  const tracker = trackerOf(address);
  // An address is at most 45 characters: longer strings are answered but not kept.
  if (address.length <= 64) {
    if (trackers.size >= MAX_TRACKERS) trackers.clear();
    trackers.set(address, tracker);
  }
  return tracker;
}

function trackerOf(address: string): string {
  const addr = normalizeIp(address);
  const groups = ipv6Groups(addr);
  if (!groups) return addr;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

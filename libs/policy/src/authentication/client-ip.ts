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

/** Strips the IPv4-mapped prefix; other addresses pass through. */
export function normalizeIp(addr: string): string {
  return addr.toLowerCase().startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
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
  if (isIP(addr) !== 6) return addr;
  const [head, tail] = addr.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

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
    throw new Error(`trustProxy: ${(err as Error).message}`);
  }
}

interface RawRequestLike {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  connection?: { remoteAddress?: string };
}

/** The client address of a raw Node request, honouring `X-Forwarded-For` only as far as the trust setting allows. */
export function clientIp(raw: RawRequestLike, trust: TrustFunction): string {
  if (trust === TRUST_NONE) return normalizeIp(raw.socket?.remoteAddress ?? raw.connection?.remoteAddress ?? '');
  const req = raw as RawRequestLike & { connection: { remoteAddress?: string } };
  if (!req.connection) (req as { connection?: unknown }).connection = req.socket ?? {};
  const addr = proxyaddr(req as unknown as Parameters<typeof proxyaddr>[0], trust);
  return normalizeIp(addr ?? '');
}

/** Strips the IPv4-mapped prefix; other addresses pass through. */
export function normalizeIp(addr: string): string {
  return addr.toLowerCase().startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

/**
 * The rate-limit tracker of an address: IPv4 as is, IPv6 grouped by its /64 network (one subscriber usually
 * holds a whole /64, so counting single IPv6 addresses is trivially evaded).
 */
export function ipTracker(address: string): string {
  const addr = normalizeIp(address);
  if (isIP(addr) !== 6) return addr;
  const [head, tail] = addr.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}

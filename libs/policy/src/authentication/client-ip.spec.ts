import { describe, expect, it } from '@jest/globals';
import { clientIp, compileTrustProxy, ipTracker, normalizeIp } from './client-ip';

const request = (remoteAddress: string, xff?: string) => ({
  headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  socket: { remoteAddress },
});

const ipOf = (setting: Parameters<typeof compileTrustProxy>[0], remoteAddress: string, xff?: string) =>
  clientIp(request(remoteAddress, xff), compileTrustProxy(setting));

describe('compileTrustProxy', () => {
  it.each([[undefined], [false], ['false'], ['']])('%p trusts no hop', (setting) => {
    const trust = compileTrustProxy(setting);
    expect(trust('127.0.0.1', 0)).toBe(false);
    expect(trust('10.0.0.1', 1)).toBe(false);
  });

  it.each([[true], ['true']])('%p trusts every hop', (setting) => {
    const trust = compileTrustProxy(setting);
    expect(trust('203.0.113.1', 0)).toBe(true);
    expect(trust('203.0.113.1', 9)).toBe(true);
  });

  it.each([[2], ['2']])('hop count %p trusts the first two hops only', (setting) => {
    const trust = compileTrustProxy(setting);
    expect([0, 1, 2, 3].map((hop) => trust('203.0.113.1', hop))).toEqual([true, true, false, false]);
  });

  it('hop count 0 trusts nothing', () => {
    expect(compileTrustProxy(0)('127.0.0.1', 0)).toBe(false);
  });

  it.each([[['10.0.0.0/8', '192.168.1.1']], ['10.0.0.0/8, 192.168.1.1'], ['10.0.0.0/8,192.168.1.1']])(
    'a CIDR/address list %p trusts only the listed addresses',
    (setting) => {
      const trust = compileTrustProxy(setting);
      expect(trust('10.1.2.3', 0)).toBe(true);
      expect(trust('192.168.1.1', 0)).toBe(true);
      expect(trust('192.168.1.2', 0)).toBe(false);
      expect(trust('11.0.0.1', 0)).toBe(false);
    },
  );

  it('understands the loopback, linklocal and uniquelocal names', () => {
    expect(compileTrustProxy('loopback')('127.0.0.1', 0)).toBe(true);
    expect(compileTrustProxy('loopback')('10.0.0.1', 0)).toBe(false);
    expect(compileTrustProxy('uniquelocal')('10.0.0.1', 0)).toBe(true);
    expect(compileTrustProxy('linklocal')('169.254.1.1', 0)).toBe(true);
  });

  it.each([['10.0.0.0/33'], ['not-an-address'], [['10.0.0.0/8', '300.1.1.1']], ['10.0.0.0/8, fe80::/200']])(
    'rejects the malformed setting %p, naming trustProxy',
    (setting) => {
      expect(() => compileTrustProxy(setting)).toThrow(/^trustProxy/);
    },
  );
});

describe('clientIp', () => {
  const spoofed = '6.6.6.6';

  it.each([[undefined], [false]])('ignores X-Forwarded-For without trust (%p)', (setting) => {
    expect(ipOf(setting, '203.0.113.7', `${spoofed}, 198.51.100.1`)).toBe('203.0.113.7');
  });

  it('returns the socket address when there is no X-Forwarded-For', () => {
    expect(ipOf(1, '203.0.113.7')).toBe('203.0.113.7');
    expect(ipOf(['10.0.0.0/8'], '10.0.0.1')).toBe('10.0.0.1');
  });

  it('falls back to connection.remoteAddress when the request has no socket', () => {
    expect(clientIp({ headers: {}, connection: { remoteAddress: '203.0.113.9' } }, compileTrustProxy(false))).toBe(
      '203.0.113.9',
    );
  });

  it('uses the rightmost X-Forwarded-For entry with hop count 1', () => {
    expect(ipOf(1, '10.0.0.1', `${spoofed}, 203.0.113.7`)).toBe('203.0.113.7');
    expect(ipOf('1', '10.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
  });

  it('walks exactly as many hops as configured', () => {
    expect(ipOf(2, '10.0.0.1', `${spoofed}, 203.0.113.7, 10.0.0.2`)).toBe('203.0.113.7');
  });

  it('with a CIDR list skips only trusted proxies', () => {
    const trusted = ['10.0.0.0/8'];
    expect(ipOf(trusted, '10.0.0.1', `${spoofed}, 203.0.113.7, 10.0.0.3, 10.0.0.2`)).toBe('203.0.113.7');
    expect(ipOf(trusted, '10.0.0.1', `${spoofed}, 203.0.113.7`)).toBe('203.0.113.7');
  });

  it('with a CIDR list ignores X-Forwarded-For sent straight from an untrusted address', () => {
    expect(ipOf(['10.0.0.0/8'], '203.0.113.7', `${spoofed}, 10.0.0.5`)).toBe('203.0.113.7');
  });

  it('never uses a spoofed leftmost entry unless every hop is trusted', () => {
    const xff = `${spoofed}, 203.0.113.7`;
    expect(ipOf(false, '10.0.0.1', xff)).not.toBe(spoofed);
    expect(ipOf(1, '10.0.0.1', xff)).not.toBe(spoofed);
    expect(ipOf(['10.0.0.0/8'], '10.0.0.1', xff)).not.toBe(spoofed);
    expect(ipOf(['10.0.0.0/8'], '10.0.0.1', `${spoofed}, 10.0.0.9`)).toBe(spoofed);
    expect(ipOf(2, '10.0.0.1', xff)).toBe(spoofed);
    expect(ipOf(true, '10.0.0.1', xff)).toBe(spoofed);
  });

  it.each([
    ['junk-7'],
    ['1.2.3.4:8080'],
    [''],
    ['   '],
    ['[2001:db8::1]'],
    ['2001:db8::1:443x'],
    ['x'.repeat(10_000)],
    ['unknown'],
  ])('treats a forwarded value that is not an IP (%p) as the proxy itself', (junk) => {
    for (const setting of [true, 1, 3, ['10.0.0.0/8']] as const) {
      expect(ipOf(setting as Parameters<typeof compileTrustProxy>[0], '10.0.0.1', junk)).toBe('10.0.0.1');
    }
    // Junk further back stops the walk at the hop that forwarded it.
    expect(ipOf(true, '10.0.0.1', `${junk}, 203.0.113.7`)).toBe('203.0.113.7');
  });

  it('reads a huge X-Forwarded-For header only as far as a real proxy chain goes', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `198.51.${Math.floor(i / 250) % 250}.${i % 250}`).join(', ');
    const ip = ipOf(true, '10.0.0.1', many);
    expect(ip).toMatch(/^198\.51\./);
  });

  it('normalises an IPv4-mapped socket address and X-Forwarded-For entry', () => {
    expect(ipOf(false, '::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(ipOf(['127.0.0.1'], '::ffff:127.0.0.1', '::ffff:198.51.100.4')).toBe('198.51.100.4');
  });

  it('returns IPv6 addresses unchanged', () => {
    expect(ipOf(false, '2001:db8::1')).toBe('2001:db8::1');
    expect(ipOf(['::1'], '::1', '2001:db8:1:2::7')).toBe('2001:db8:1:2::7');
  });
});

describe('normalizeIp', () => {
  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['203.0.113.7', '203.0.113.7'],
    ['::1', '::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:abcd', '::ffff:abcd'],
    ['', ''],
    // Zone ids name an interface of the host that saw the address: dropped, whatever they hold.
    ['fe80::1%eth0', 'fe80::1'],
    ['2001:db8:1:2::1%a:b:c:d:e:f', '2001:db8:1:2::1'],
    ['fe80::1%0:1:2:3:4:5:6:7', 'fe80::1'],
    // IPv4-mapped addresses in their other spellings.
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['0:0:0:0:0:FFFF:CB00:7107', '203.0.113.7'],
    ['::ffff:0:cb00:7107', '::ffff:0:cb00:7107'],
    ['junk%zone', 'junk%zone'],
  ])('%p → %p', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });
});

describe('ipTracker', () => {
  it('keeps IPv4 addresses as they are', () => {
    expect(ipTracker('203.0.113.7')).toBe('203.0.113.7');
    expect(ipTracker('203.0.113.8')).not.toBe(ipTracker('203.0.113.7'));
  });

  it('groups IPv6 addresses of one /64', () => {
    const a = ipTracker('2001:db8:1:2:aaaa::1');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(ipTracker('2001:db8:1:2:bbbb::2')).toBe(a);
    expect(ipTracker('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(a);
    expect(ipTracker('2001:db8:1:2::')).toBe(a);
  });

  it('separates IPv6 addresses of different /64 networks', () => {
    expect(ipTracker('2001:db8:1:3::1')).not.toBe(ipTracker('2001:db8:1:2:aaaa::1'));
    expect(ipTracker('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(ipTracker('2001:db9:1:2::1')).not.toBe(ipTracker('2001:db8:1:2::1'));
  });

  it.each([['2001:0db8:0001:0002:0000:0000:0000:0001'], ['2001:DB8:1:2::1'], ['2001:db8:1:2:0:0:0:1']])(
    'gives one tracker for every spelling of the same /64 (%s)',
    (addr) => {
      expect(ipTracker(addr)).toBe('2001:db8:1:2::/64');
    },
  );

  it('expands a :: that falls inside the first four groups', () => {
    expect(ipTracker('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipTracker('2001:db8::1:0:0:1')).toBe('2001:db8:0:0::/64');
    expect(ipTracker('::1')).toBe('0:0:0:0::/64');
    expect(ipTracker('fe80::1')).not.toBe(ipTracker('fe81::1'));
  });

  it('does not lump every IPv4-mapped IPv6 client into one bucket', () => {
    // A caller of authorize() outside HTTP (e.g. a WebSocket handshake address) may hand over `::ffff:a.b.c.d`.
    expect(ipTracker('::ffff:203.0.113.7')).not.toBe(ipTracker('::ffff:198.51.100.9'));
  });

  it('answers the same tracker when asked again, for addresses kept and for strings too long to keep', () => {
    const addresses = ['198.51.100.23', '::ffff:198.51.100.23', '2001:DB8:1:2::9', `${'1'.repeat(70)}`];
    const first = addresses.map((a) => ipTracker(a));
    expect(first.slice(0, 3)).toEqual(['198.51.100.23', '198.51.100.23', '2001:db8:1:2::/64']);
    expect(addresses.map((a) => ipTracker(a))).toEqual(first);
    // More distinct addresses than are kept: each still gets its own tracker, and earlier ones still answer right.
    for (let i = 0; i < 10_050; i++)
      expect(ipTracker(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)).toBe(
        `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      );
    expect(ipTracker('2001:DB8:1:2::9')).toBe('2001:db8:1:2::/64');
  });

  it('tracks an address with a zone id as the address, never failing on a zone that holds colons', () => {
    for (const address of ['2001:db8:1:2::1%a:b:c:d:e:f', '1:2:3:4::5%a:b:c:d:e', 'fe80::1%0:1:2:3:4:5:6:7']) {
      expect(() => ipTracker(address)).not.toThrow();
    }
    expect(ipTracker('2001:db8:1:2::1%a:b:c:d:e:f')).toBe('2001:db8:1:2::/64');
    expect(ipTracker('1:2:3:4::5%a:b:c:d:e')).toBe('1:2:3:4::/64');
    // A zone id cannot move an address into another /64.
    for (let n = 1; n <= 6; n++) expect(ipTracker(`2001:db8:77::${n}%a:b:c:d:e`)).toBe('2001:db8:77:0::/64');
  });

  it('tracks IPv4-mapped addresses in any spelling as their IPv4 address', () => {
    expect(ipTracker('::ffff:cb00:7101')).toBe('203.0.113.1');
    expect(ipTracker('0:0:0:0:0:ffff:203.0.113.1')).toBe('203.0.113.1');
    expect(ipTracker('::1')).toBe('0:0:0:0::/64');
  });
});

import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { CliUsageError, EXIT } from './cli.errors';
import type { CliOutput } from './cli.output';

export const TOKEN_HELP = `Usage: nest-agent-policy token --sub <id> [--roles <r1,r2>] [--scope "<s1 s2>"] [--tenant <id>] [--tier <t>]
                             [--ttl <seconds>] [--m2m] [--issuer <iss>] [--audience <aud>]
                             [--secret <HS256 secret> | --private-key <pem file>]

Mints a development JWT with the claims the library reads (sub, scope, roles, tenant_id, tier, token_type, jti).
The key is --secret or JWT_SECRET (HS256, at least 32 bytes), or --private-key (RS256 for RSA, ES256 for P-256).
--issuer/--audience default to JWT_ISSUER/JWT_AUDIENCE. Refused when NODE_ENV=production.
Exit codes: 0 the token is printed; 2 bad input.`;

const MAX_TTL = 7 * 24 * 3600;

export function runToken(args: readonly string[], io: CliOutput, env: NodeJS.ProcessEnv = process.env): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      sub: { type: 'string' },
      roles: { type: 'string' },
      scope: { type: 'string' },
      tenant: { type: 'string' },
      tier: { type: 'string' },
      ttl: { type: 'string' },
      m2m: { type: 'boolean' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      secret: { type: 'string' },
      'private-key': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new CliUsageError(`token takes no arguments (got "${positionals[0]}")`);
  if (env.NODE_ENV === 'production')
    throw new CliUsageError('token mints development tokens and is refused when NODE_ENV=production');
  if (!values.sub?.trim()) throw new CliUsageError('token needs --sub');
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL)
    throw new CliUsageError(`--ttl must be a whole number of seconds from 1 to ${MAX_TTL}`);

  let key: string | ReturnType<typeof createPrivateKey>;
  let algorithm: jwt.Algorithm;
  if (values['private-key']) {
    let pem: string;
    try {
      pem = readFileSync(values['private-key'], 'utf8');
      key = createPrivateKey(pem);
    } catch {
      throw new CliUsageError(`--private-key ${values['private-key']}: not a readable PEM private key`);
    }
    const type = key.asymmetricKeyType;
    if (type === 'rsa') algorithm = 'RS256';
    else if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithm = 'ES256';
    else throw new CliUsageError('--private-key must be an RSA or P-256 EC key');
  } else {
    const secret = values.secret ?? env.JWT_SECRET;
    if (!secret) throw new CliUsageError('token needs --secret, JWT_SECRET or --private-key');
    if (Buffer.byteLength(secret) < 32) throw new CliUsageError('the HS256 secret must be at least 32 bytes');
    key = secret;
    algorithm = 'HS256';
  }

  const claims: Record<string, unknown> = { sub: values.sub.trim(), jti: randomUUID() };
  const roles = (values.roles ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (roles.length) claims.roles = roles;
  if (values.scope?.trim()) claims.scope = values.scope.trim().split(/\s+/).join(' ');
  if (values.tenant) claims.tenant_id = values.tenant;
  if (values.tier) claims.tier = values.tier;
  if (values.m2m) claims.token_type = 'm2m';
  const issuer = values.issuer ?? env.JWT_ISSUER;
  const audience = values.audience ?? env.JWT_AUDIENCE;
  const token = jwt.sign(claims, key, {
    algorithm,
    expiresIn: ttl,
    ...(issuer ? { issuer } : {}),
    ...(audience ? { audience } : {}),
  });
  io.out(token);
  return EXIT.ok;
}

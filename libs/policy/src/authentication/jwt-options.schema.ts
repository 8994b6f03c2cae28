import { Type, type Static } from '@sinclair/typebox';
import { NonNegativeNumber, PositiveInteger, StrictObject, StringEnum } from '../schema/schema.builders';

export const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** The `jwt` option of `PolicyModule.forRoot`. */
export const JwtOptionsSchema = StrictObject({
  secret: Type.Optional(Type.String({ description: 'HS256 secret, at least 32 bytes.' })),
  publicKey: Type.Optional(Type.String({ description: 'PEM public key for RS256/ES256.' })),
  algorithms: Type.Optional(Type.Array(StringEnum(JWT_ALGORITHMS), { description: 'Pinned algorithms.' })),
  issuer: Type.Optional(Type.String()),
  audience: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  clockTolerance: Type.Optional(
    NonNegativeNumber({ description: 'Seconds of clock skew tolerated on exp/nbf (default 0).' }),
  ),
  maxLifetime: Type.Optional(
    PositiveInteger({
      description: 'Seconds a token may claim to live: exp - iat, or exp - now without iat (default 86,400).',
    }),
  ),
  iatLeeway: Type.Optional(
    NonNegativeNumber({ description: 'Seconds iat may lie in the future before the token is refused (default 5).' }),
  ),
});
export type JwtOptions = Static<typeof JwtOptionsSchema>;

/**
 * The bare baseline: a NestJS app on the adapter of BENCH_ADAPTER with the same process settings as agent-api, one route shaped like
 * `GET /agents/:id`, and nothing on the path. Also a route behind a plain `@nestjs/passport` `AuthGuard('jwt')`
 * for reference.
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Param, UseGuards } from '@nestjs/common';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { createBenchApp, listenAndReport } from './bench-app';

const agent = (id: string) => ({
  id,
  tenantId: null,
  ownerId: 'bench',
  name: 'bench agent',
  model: 'echo-1',
  instructions: '',
  createdAt: 0,
  updatedAt: 0,
});

@Injectable()
class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: process.env.JWT_SECRET as string,
      algorithms: ['HS256'],
    });
  }
  validate(payload: unknown) {
    return payload;
  }
}

@Controller()
class BareController {
  @Get('agents/:id')
  get(@Param('id') id: string) {
    return agent(id);
  }

  @Get('passport/agents/:id')
  @UseGuards(AuthGuard('jwt'))
  guarded(@Param('id') id: string) {
    return agent(id);
  }
}

@Module({ imports: [PassportModule], controllers: [BareController], providers: [JwtStrategy] })
class BareModule {}

async function main() {
  await listenAndReport(await createBenchApp(BareModule));
}

void main();

import { Controller, Get, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Public } from '../decorators/public.decorator';
import { RequireOperation } from '../decorators/require-operation.decorator';
import { RequireScopes } from '../decorators/require-scopes.decorator';
import { routePolicy } from './route-metadata';

@Controller()
@RequireOperation('agent.read')
@RequireScopes('agents:read')
class Agents {
  @Get()
  read() {}

  @Get('write')
  @RequireOperation('agent.update')
  @RequireScopes('agents:write')
  update() {}

  @Get('open')
  @Public()
  open() {}
}

@Controller()
class Plain {
  @Get()
  nothing() {}
}

/** Another controller inheriting `Agents`' handlers: its routes are its own. */
@Controller()
@Public()
class OpenAgents extends Agents {}

const contextOf = (type: object, handler: (...args: never[]) => unknown) =>
  ({ getClass: () => type, getHandler: () => handler }) as unknown as ExecutionContext;

describe('routePolicy', () => {
  const reflector = new Reflector();

  it('reads the class decorators, and the method ones over them', () => {
    expect(routePolicy(reflector, contextOf(Agents, Agents.prototype.read))).toEqual({
      name: 'Agents.read',
      isPublic: false,
      operation: 'agent.read',
      requiredScopes: ['agents:read'],
    });
    expect(routePolicy(reflector, contextOf(Agents, Agents.prototype.update))).toMatchObject({
      operation: 'agent.update',
      requiredScopes: ['agents:write'],
    });
    expect(routePolicy(reflector, contextOf(Agents, Agents.prototype.open)).isPublic).toBe(true);
  });

  it('names no operation and no scopes on an undecorated route', () => {
    expect(routePolicy(reflector, contextOf(Plain, Plain.prototype.nothing))).toEqual({
      name: 'Plain.nothing',
      isPublic: false,
      operation: undefined,
      requiredScopes: [],
    });
  });

  it('keeps one frozen answer per controller × handler: a handler inherited by another controller is another route', () => {
    const own = routePolicy(reflector, contextOf(Agents, Agents.prototype.read));
    expect(routePolicy(reflector, contextOf(Agents, Agents.prototype.read))).toBe(own);
    expect(Object.isFrozen(own)).toBe(true);
    const inherited = routePolicy(reflector, contextOf(OpenAgents, Agents.prototype.read));
    expect(inherited).not.toBe(own);
    expect(inherited).toMatchObject({ name: 'OpenAgents.read', isPublic: true });
  });
});

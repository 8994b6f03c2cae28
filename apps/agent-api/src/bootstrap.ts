import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import pino from 'pino';
import {
  installHttpMetrics,
  installRequestLogging,
  PinoLoggerService,
  PolicyMetrics,
  PolicyValidationPipe,
  reportAnsweredRequest,
  type AnsweredRequest,
} from 'nest-agent-policy';
import { AgentApiModule } from './agent-api.module';
import type { AgentApiConfig } from './config/agent-api.config';
import { clientErrorAnswerer } from './http/client-error';
import { FASTIFY_MAX_PARAM_LENGTH, frameworkErrorAnswerer, refuseMalformedPaths } from './http/framework-errors';
import { useExpressJsonBodies, useFastifyJsonBodies } from './http/json-bodies';
import { BatchedDestination, type FlushableDestination } from './logging/batched.destination';

const FLUSH_JSON_LOGS = Symbol('FLUSH_JSON_LOGS');

export type HttpAdapterKind = 'express' | 'fastify';

export interface CreateAppOptions {
  adapter?: HttpAdapterKind;
  logger?: LoggerService | LogLevel[] | false;
  /** Where JSON logs go (`logFormat: 'json'` and no `logger`): stdout by default; e2e suites gather them in memory. */
  logDestination?: FlushableDestination;
}

/** The OpenAPI description: what each route requires is on the route; the budgets and prices of the policy file here. */
function describePolicy(config: AgentApiConfig): string {
  const lines = [
    'A sample agent platform behind nest-agent-policy. Each route names the operation and scopes it requires.',
    '',
  ];
  const budgets = config.policy.budgets ?? {};
  const scopes = ['principal', 'api-key', 'tenant', 'global'] as const;
  const rows = scopes.flatMap((scope) =>
    Object.entries(budgets[scope] ?? {}).map(
      ([period, limits]) =>
        `| ${scope} | ${period} | ${Object.entries(limits ?? {})
          .map(([u, v]) => `${u}: ${v}`)
          .join(', ')} |`,
    ),
  );
  if (rows.length) {
    lines.push(
      `**Budgets** (policy file \`${config.policyPath.split(/[\\/]/).pop()}\`; warning at ${budgets.softLimitPercent ?? 80}%):`,
      '',
      '| scope | period | limits |',
      '|---|---|---|',
      ...rows,
      '',
    );
  }
  const prices = Object.entries(config.policy.pricing ?? {});
  if (prices.length) {
    lines.push('**Prices** (USD per 1M tokens):', '', '| model | input | output | cached input |', '|---|---|---|---|');
    for (const [model, p] of prices)
      lines.push(`| ${model} | ${p.input} | ${p.output} | ${p.cachedInput ?? p.input} |`);
  }
  return lines.join('\n');
}

/**
 * pino on stdout (or `target`), buffered: lines go out in one synchronous write per 16 KiB or 100 ms instead of one
 * write per request. What is gathered is written when the process exits and when Nest shuts the app down (a signal with
 * `enableShutdownHooks()` ends the process without an `exit` event).
 */
function jsonLogger(target: FlushableDestination = pino.destination({ dest: 1, sync: true })): {
  logger: pino.Logger;
  destination: BatchedDestination;
} {
  const destination = new BatchedDestination(target);
  process.once('exit', () => destination.flushSync());
  return { logger: pino({ level: 'info' }, destination), destination };
}

/** Builds the agent-api application (not listening yet) for the given configuration and HTTP adapter. */
export async function createAgentApi(
  config: AgentApiConfig,
  options: CreateAppOptions = {},
): Promise<INestApplication> {
  const module = AgentApiModule.forRoot(config);
  // JSON logs (production by default): Nest's messages and one line per request, through pino.
  const jsonLogs =
    options.logger === undefined && config.logFormat === 'json' ? jsonLogger(options.logDestination) : undefined;
  const json = jsonLogs?.logger;
  if (jsonLogs) {
    // Written out last when Nest shuts the app down, after its own shutdown messages.
    const flushLogs = { onApplicationShutdown: () => jsonLogs.destination.flushSync() };
    module.providers = [...(module.providers ?? []), { provide: FLUSH_JSON_LOGS, useValue: flushLogs }];
  }
  const logger = options.logger ?? (json ? new PinoLoggerService(json) : ['error', 'warn', 'log']);
  // Requests answered below Nest (by Node's HTTP parser, by Fastify's router) are reported to the same observers. Their
  // handlers are given to the adapter before the app exists: they reach it through `observed`, set before listen().
  let observed: INestApplication | undefined;
  const reportAnswered = (answer: AnsweredRequest) => {
    if (observed) reportAnsweredRequest(observed, answer);
  };
  const observe = (created: INestApplication) => {
    if (config.httpMetrics) installHttpMetrics(created, created.get(PolicyMetrics));
    if (json) installRequestLogging(created, json);
    observed = created;
  };
  let app: INestApplication;
  if (options.adapter === 'fastify') {
    const fastify = await NestFactory.create<NestFastifyApplication>(
      module,
      new FastifyAdapter({
        bodyLimit: config.bodyLimit,
        clientErrorHandler: clientErrorAnswerer(reportAnswered),
        routerOptions: { maxParamLength: FASTIFY_MAX_PARAM_LENGTH },
        frameworkErrors: frameworkErrorAnswerer(reportAnswered),
      }),
      // The body parsers are the app's own (below), so both adapters accept and refuse the same bodies.
      { logger, bodyParser: false },
    );
    observe(fastify);
    useFastifyJsonBodies(fastify, config.bodyLimit);
    app = fastify;
  } else {
    const express = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), {
      logger,
      bodyParser: false,
    });
    // Before the body parser, so that requests it refuses (bad JSON, too large) are logged and measured too.
    observe(express);
    // Fastify's router answers these 400; Express's would answer 404 (after the body is parsed).
    express.use(refuseMalformedPaths);
    useExpressJsonBodies(express, config.bodyLimit);
    express.disable('x-powered-by');
    // No ETag on JSON answers, as on Fastify: they change with every call (rate-limit and budget headers, audit ids),
    // and hashing each body costs a few µs a request. Static files keep theirs (serve-static's own option).
    express.set('etag', false);
    express.getHttpServer().on('clientError', clientErrorAnswerer(reportAnswered));
    app = express;
  }
  app.useGlobalPipes(new PolicyValidationPipe());
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('agent-api')
      .setDescription(describePolicy(config))
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  return app;
}

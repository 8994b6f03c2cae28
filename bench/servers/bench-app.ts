/**
 * Creates a bench server's Nest application on the adapter named by BENCH_ADAPTER (`express`, the default, or
 * `fastify`), listens on a free port of 127.0.0.1 and prints `READY <port> [extra]`.
 */
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

export async function createBenchApp(module: unknown): Promise<INestApplication> {
  const options = { logger: ['error' as const] };
  if (process.env.BENCH_ADAPTER === 'fastify')
    return NestFactory.create(module as never, new FastifyAdapter(), options);
  return NestFactory.create(module as never, options);
}

export async function listenAndReport(app: INestApplication, extra?: () => Promise<string>): Promise<void> {
  // A signal ends the process through exit, so a `--cpu-prof` profile is written.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void app.close().finally(() => process.exit(0)));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  process.stdout.write(`READY ${port}${extra ? ` ${await extra()}` : ''}\n`);
}

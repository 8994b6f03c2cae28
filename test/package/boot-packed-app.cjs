// Run inside a fresh project where the packed library was installed from its tarball: boots a Nest app that imports
// PolicyModule from it (plain CommonJS, decorators applied by hand, as compiled TypeScript does), calls its routes
// and prints what it saw as one JSON line. The entry file's first import is the library's subpath export, as the README
// asks of apps.
require('nest-agent-policy/keep-next-tick-shape');
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { TypeOrmModule } = require('@nestjs/typeorm');
const { POLICY_ENTITIES, POLICY_MIGRATIONS, PolicyModule, Public, RequireOperation } = require('nest-agent-policy');

class ReportsController {
  open() {
    return { open: true };
  }
  list() {
    return { reports: [] };
  }
}
for (const [name, decorators] of [
  ['open', [Get('open'), Public()]],
  ['list', [Get(), RequireOperation('report.read')]],
]) {
  const descriptor = Object.getOwnPropertyDescriptor(ReportsController.prototype, name);
  Object.defineProperty(
    ReportsController.prototype,
    name,
    Reflect.decorate(decorators, ReportsController.prototype, name, descriptor),
  );
}
Reflect.decorate([Controller('reports')], ReportsController);

class AppModule {}
Reflect.decorate(
  [
    Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: process.env.DATABASE_URL,
          entities: [...POLICY_ENTITIES],
          migrations: [...POLICY_MIGRATIONS],
          migrationsRun: true,
        }),
        PolicyModule.forRoot({
          jwt: { secret: process.env.JWT_SECRET },
          operations: ['report.read'],
          roles: { reader: { operations: ['report.read'] } },
        }),
      ],
      controllers: [ReportsController],
    }),
  ],
  AppModule,
);

async function main() {
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const base = await app.getUrl();
  const call = async (path, headers = {}) => {
    const res = await fetch(`${base.replace('[::1]', '127.0.0.1')}${path}`, { headers });
    return { status: res.status, body: await res.json() };
  };
  const result = {
    resolved: require.resolve('nest-agent-policy'),
    schemaTitle: require('nest-agent-policy/policy.schema.json').title,
    open: await call('/reports/open'),
    anonymous: await call('/reports'),
    reader: await call('/reports', { authorization: `Bearer ${process.env.READER_TOKEN}` }),
  };
  await app.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

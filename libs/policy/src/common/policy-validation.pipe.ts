import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ValidationFailedException } from '../policy.exceptions';

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => m.replace(e.property, path));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/**
 * The validation pipe the library recommends globally: transforms, strips nothing silently (unknown fields are a
 * 400), and answers 400 `validation_failed` with the failing rules (never the submitted values).
 * @example app.useGlobalPipes(new PolicyValidationPipe());
 */
export class PolicyValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => new ValidationFailedException('Request validation failed', flatten(errors)),
    });
  }
}

import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { ValidationFailedException } from '../policy.exceptions';
import { DEFAULT_MAX_INPUT_DEPTH, inputShapeProblem } from './input-shape';

/** Options of {@link PolicyValidationPipe}. */
export interface PolicyValidationPipeOptions {
  /** Deepest nesting of objects and arrays accepted in a body, query or parameter (default 32). */
  maxDepth?: number;
}

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => m.replace(e.property, path));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/**
 * The validation pipe the library recommends globally: transforms, strips nothing silently (unknown fields are a
 * 400), and answers 400 `validation_failed` with the failing rules (never the submitted values). Before any
 * transformation it refuses input nested deeper than `maxDepth` (class-transformer recurses: a body 10,000 deep
 * would overflow the stack) and any NUL character in a string or key (PostgreSQL cannot store one), in bodies,
 * queries and path parameters alike; values of custom parameter decorators are left alone.
 * @example app.useGlobalPipes(new PolicyValidationPipe());
 * @throws ValidationFailedException (400 `validation_failed`) for input that breaks a rule.
 */
export class PolicyValidationPipe extends ValidationPipe {
  private readonly maxDepth: number;

  constructor(options: PolicyValidationPipeOptions = {}) {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => new ValidationFailedException('Request validation failed', flatten(errors)),
    });
    const maxDepth = options.maxDepth ?? DEFAULT_MAX_INPUT_DEPTH;
    if (!Number.isInteger(maxDepth) || maxDepth < 1)
      throw new Error(`maxDepth must be a positive integer (got ${String(maxDepth)})`);
    this.maxDepth = maxDepth;
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      const problem = inputShapeProblem(value, this.maxDepth);
      if (problem) throw new ValidationFailedException('Request validation failed', [`${metadata.type} ${problem}`]);
    }
    return super.transform(value, metadata);
  }
}

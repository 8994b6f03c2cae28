/** A mistake in what the command was given (a missing argument, an unreadable or malformed file): exit code 2. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** Exit codes of every command: 0 success, 1 the check found problems, 2 the input could not be used. */
export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

/**
 * An error the user can act on: printed as one line on stderr (no stack), exit status 2
 * unless another is given. Every bad input (missing store, unknown layer, broken chain, ...)
 * is reported with one of these, naming the thing and what is wrong with it.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** One line, whatever the error was: for messages that must never carry a stack. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

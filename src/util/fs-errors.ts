// One mapping from a file-system error to the words a one-line message uses, so every "cannot
// read X" in the tool says the same thing for the same cause and no cause is swallowed.

import { UserError } from './errors.js';

/** The errno code of an error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What went wrong, in words: "does not exist", "permission denied", ... */
export function describeFsError(err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return 'does not exist';
    case 'ENOTDIR':
      return 'does not exist (a component of the path is not a directory)';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'EISDIR':
      return 'is a directory';
    case 'ELOOP':
      return 'has too many levels of symbolic links';
    case 'EIO':
      return 'cannot be read (I/O error)';
    case 'ENAMETOOLONG':
      return 'has a name that is too long';
    default: {
      const msg = err instanceof Error ? err.message : String(err);
      return `cannot be read (${msg.replace(/\s*\n\s*/g, ' ')})`;
    }
  }
}

/** A UserError "<what>: <cause>" for a failed file-system call. */
export function fsUserError(what: string, err: unknown): UserError {
  return new UserError(`${what}: ${describeFsError(err)}`);
}

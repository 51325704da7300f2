// Paths other users may share (/tmp): a directory they could write must not hold what we
// trust, and we remove only the very file we made (never through a link, never theirs).
import { lstatSync, statSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';
import { errnoException, type SystemError } from './errors';

/**
 * The directory of `path` must not let another user replace what we put there: writable
 * by others is refused unless sticky (then only the owner of an entry may rename or remove
 * it); with `sticky: false`, writable by group or others at all is refused. EPERM names
 * `syscall` (the caller: 'takeover', 'control').
 */
export function checkPrivateDirectory(path: string, syscall: string, options: { sticky?: boolean } = {}): void {
  const directory = dirname(path);
  let mode: number;
  try {
    mode = statSync(directory).mode;
  } catch (error) {
    throw errnoException(-(error as SystemError).errno, 'stat', { address: directory, reason: `the ${syscall} path's directory` });
  }
  // sticky: false (a socket that takes commands) asks for a directory no one else may write.
  const othersMayWrite = options.sticky === false ? (mode & 0o022) !== 0 : (mode & 0o002) !== 0 && (mode & 0o1000) === 0;
  if (othersMayWrite) {
    throw errnoException(osConstants.errno.EPERM, syscall, {
      address: path,
      reason: `${directory} is writable by ${options.sticky === false ? 'group or other' : 'other'} users${options.sticky === false ? '' : ' and not sticky'}: put the ${syscall} path in a private directory`,
    });
  }
}

/** Removes the socket file at `path` only if it is still the one `identity` names (ours). */
export function unlinkOwn(path: string, identity: { dev: number; ino: number } | null): void {
  if (identity === null) return;
  try {
    const now = lstatSync(path);
    if (now.isSocket() && now.dev === identity.dev && now.ino === identity.ino) unlinkSync(path);
  } catch {
    // gone already
  }
}

// shutdown(2): unlike close(), acts on the connection itself, for every descriptor and
// every process that shares the socket.
import { binding } from './binding';
import { invalidArgValue } from './errors';
import { fdOf, type Target } from './target';

export type ShutdownHow = 'read' | 'write' | 'both';

const HOW: Readonly<Record<ShutdownHow, number>> = {
  read: binding.constants.SHUT_RD!,
  write: binding.constants.SHUT_WR!,
  both: binding.constants.SHUT_RDWR!,
};
const HOW_NUMBERS = new Set(Object.values(HOW));

function howNumber(how: unknown): number {
  if (typeof how === 'string' && Object.hasOwn(HOW, how)) return HOW[how as ShutdownHow];
  if (typeof how === 'number' && HOW_NUMBERS.has(how)) return how;
  throw invalidArgValue('how', how, "must be 'read', 'write', 'both' or one of constants.SHUT_RD, SHUT_WR, SHUT_RDWR");
}

/** shutdown(fd, how): 'read' (SHUT_RD), 'write' (SHUT_WR, sends FIN), 'both' (SHUT_RDWR). */
export function shutdown(target: Target, how: ShutdownHow | number): void {
  const fd = fdOf(target);
  binding.shutdown(fd, howNumber(how));
}

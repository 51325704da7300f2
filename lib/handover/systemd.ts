// listenFds(): the descriptors a supervisor passed by the systemd protocol, read as
// sd_listen_fds(3) and sd_listen_fds_with_names(3) read them: LISTEN_PID must be this
// process, LISTEN_FDS descriptors from 3 on, LISTEN_FDNAMES their names (colon-separated,
// 'unknown' when absent). Each is checked before any is taken: a wrong LISTEN_FDS must
// not make this process close or change a descriptor Node itself holds (epoll, eventfd).
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { describeSocket, type SocketInfo } from '../core/describe';
import { OwnedDescriptor } from '../core/descriptor';
import { errnoException, illegalConstructor } from '../core/errors';
import { readOptions, validateBoolean } from '../core/validate';

/** SD_LISTEN_FDS_START */
export const LISTEN_FDS_START = 3;

export interface ListenFdsOptions {
  /** Unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so that children do not inherit them (default true). */
  unsetEnvironment?: boolean;
}

// Only listenFds() makes a SystemdDescriptor: refused before the descriptor is taken
// (an owner made from junk would close the number at GC, whoever has it by then).
const MAKE = Symbol('listenFds()');

/** A descriptor passed by the supervisor, owned by this process: its name and what it is. */
export class SystemdDescriptor extends OwnedDescriptor {
  /** From LISTEN_FDNAMES (systemd's FileDescriptorName=, systemd-socket-activate --fdname), else 'unknown'. */
  readonly name: string;
  readonly type: SocketInfo['type'];
  readonly family: SocketInfo['family'];
  /** SO_ACCEPTCONN: a listener that listen(server, { descriptor }) can serve on. */
  readonly listening: boolean;
  /** The local address: an IP address, a UNIX path, or '@name' for an abstract one. */
  readonly address: string;
  /** The local port of a TCP or UDP socket. */
  readonly port: number | undefined;

  /** @internal listenFds() makes it; ERR_ILLEGAL_CONSTRUCTOR otherwise. */
  constructor(token: symbol, fd: number, name: string, info: SocketInfo) {
    if (token !== MAKE) throw illegalConstructor();
    super(fd);
    this.name = name;
    this.type = info.type;
    this.family = info.family;
    this.listening = info.listening;
    this.address = info.address ?? info.path ?? '';
    this.port = info.port;
  }
}

const VARIABLES = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'];

function invalid(reason: string): Error {
  return errnoException(osConstants.errno.EINVAL, 'sd_listen_fds', { reason });
}

/** A decimal as sd_listen_fds parses it (safe_atoi): digits only. */
function parseCount(text: string, variable: string): number {
  if (!/^\d{1,9}$/.test(text)) throw invalid(`${variable} is not a number: ${JSON.stringify(text)}`);
  return Number(text);
}

// Set once descriptors were handed out: a second listenFds() (the variables kept with
// unsetEnvironment: false) would make a second owner of the same descriptors.
let taken = false;

function read(env: NodeJS.ProcessEnv): SystemdDescriptor[] {
  const pidText = env.LISTEN_PID;
  const fdsText = env.LISTEN_FDS;
  if (pidText === undefined || fdsText === undefined) return [];
  const pid = parseCount(pidText, 'LISTEN_PID');
  if (pid !== process.pid) {
    throw invalid(`LISTEN_PID is ${pid}, not this process (${process.pid}): the descriptors were meant for another process`);
  }
  const count = parseCount(fdsText, 'LISTEN_FDS');
  const given = env.LISTEN_FDNAMES?.split(':');
  if (given !== undefined && given.length !== count) throw invalid(`LISTEN_FDNAMES has ${given.length} names for LISTEN_FDS=${count}`);
  // Nothing sized by the count before its descriptors are seen open: LISTEN_FDS=999999999
  // stops at the first missing one instead of allocating that many names.
  const names: string[] = [];
  const infos: SocketInfo[] = [];
  for (let i = 0; i < count; i++) {
    const fd = LISTEN_FDS_START + i;
    const name = given?.[i] ?? 'unknown';
    names.push(name);
    try {
      infos.push(describeSocket(fd));
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      const why = e.code === 'ENOTSOCK' ? 'is not a socket' : 'is not open';
      throw errnoException(-(e.errno ?? -osConstants.errno.EBADF), e.syscall ?? 'fstat', {
        reason: `LISTEN_FDS is ${count} but fd ${fd} (${name}) ${why}`,
      });
    }
  }
  if (taken && infos.length > 0) {
    throw errnoException(osConstants.errno.EBUSY, 'listenFds', { reason: 'an earlier listenFds() took these descriptors already: use what it returned' });
  }
  taken ||= infos.length > 0;
  // All checked: only now are they taken, close-on-exec as sd_listen_fds sets them.
  return infos.map((info, i) => {
    const fd = LISTEN_FDS_START + i;
    binding.setCloexec(fd);
    return new SystemdDescriptor(MAKE, fd, names[i]!, info);
  });
}

/**
 * The sockets passed by systemd (or systemd-socket-activate, or `sockctl serve`) by the
 * socket activation protocol, in order from fd 3, each an owned descriptor with its
 * name and what it is. [] when this process was not socket-activated. Errors (EINVAL,
 * EBADF, ENOTSOCK, with the reason) when the variables are wrong, and nothing is taken.
 */
export function listenFds(options?: ListenFdsOptions): SystemdDescriptor[] {
  const o = readOptions(options ?? undefined, 'options', ['unsetEnvironment'], 'an option of listenFds');
  const unset = o.unsetEnvironment === undefined ? true : validateBoolean(o.unsetEnvironment, 'options.unsetEnvironment');
  try {
    return read(process.env);
  } finally {
    if (unset) for (const name of VARIABLES) delete process.env[name];
  }
}


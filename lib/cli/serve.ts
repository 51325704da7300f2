// `sockctl serve`: holds the listeners and runs a command on them by the systemd protocol;
// SIGHUP reloads with nothing dropped, SIGTTIN/SIGTTOU add or remove a worker (as
// gunicorn), SIGTERM/SIGINT stop everything. The supervision itself is lib/serve/.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { parseArgs } from 'node:util';
import { integer, UsageError } from './usage';
import { OPTIONS as SOCKET_OPTIONS } from '../core/options';
import { describeListener } from '../serve/listeners';
import { Supervisor, type ListenSpec, type LogFields, type SupervisorOptions } from '../serve/supervisor';

const HELP = `Usage: sockctl serve [options] -- COMMAND [ARG...]

Makes the listening sockets and runs COMMAND with them as systemd does (sd_listen_fds(3)):
descriptors 3, 4, ... in --listen order, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID (the
child's own pid) and NOTIFY_SOCKET, on which the child says READY=1 (sd_notify(3)). The
sockets stay open here for the supervisor's whole life, so their accept queues do too.

Signals:
  SIGHUP             reload: start a new generation on the same sockets, wait until every
                     worker of it says READY=1, then SIGTERM the old one (it drains; SIGKILL
                     after --drain-timeout). A new generation that exits or is not ready
                     within --ready-timeout is stopped, and the old one keeps serving.
                     SIGHUPs during a reload are coalesced: at most one more waits.
  SIGTTIN / SIGTTOU  one worker more / one fewer (the last one)
  SIGTERM / SIGINT   stop every worker (--stop-signal, then SIGKILL after --drain-timeout),
                     exit; also during the first start

Options:
  --listen SPEC      a listening socket (repeatable), in LISTEN_FDS order:
                       [NAME=]HOST:PORT   TCP (IPv6 as [::1]:8080; port 0: the kernel
                                          chooses, printed at start)
                       NAME=unix:/PATH    a UNIX stream socket (a stale socket file is
                                          replaced, any other file refused; removed at stop)
                       NAME=udp:HOST:PORT a UDP socket
                     each followed by ,backlog=N  ,mode=0660 (unix)  or ,OPTION=VALUE, any
                     pre-bind socket option by its C name (TCP_NODELAY=1, SO_RCVBUF=262144,
                     TCP_DEFER_ACCEPT=5: accepted sockets inherit them). NAME goes in
                     LISTEN_FDNAMES (default 'unknown')
  --workers N        N children on the same sockets (default 1)
  --reuse-port       one SO_REUSEPORT socket per worker instead of shared ones; worker i of
                     the next generation gets worker i's socket
  --recreate-listeners  with --reuse-port: new sockets for each generation, the old ones
                     closed with the old generation (what nginx does; loses the connections
                     queued in them unless net.ipv4.tcp_migrate_req=1: for comparison)
  --ready-timeout MS  how long a new generation has to be ready (default 30000)
  --drain-timeout MS  how long a stopped worker has to exit before SIGKILL (default 30000)
  --ready-after MS   a worker still running after MS counts as ready, for programs that
                     never send READY=1
  --stop-signal SIG  what stops a worker gracefully (default SIGTERM; lighttpd: SIGINT,
                     nginx: SIGQUIT); also sent to the workers if sockctl itself is killed
  --max-draining N   old generations draining at once (default 3); past it the oldest one's
                     drain is cut short (SIGKILL), so slow clients cannot pile them up
  --log-format FMT   text (default: an ISO time, then the message) or json (one object a
                     line: time, pid, msg, and where they apply event, generation, worker,
                     workerPid)
  --pid-file PATH    sockctl's pid, written at start, removed at stop
  -h, --help         this text

Workers are started with PR_SET_PDEATHSIG (the stop signal) and sockctl is a child
subreaper (or PID 1): if sockctl is killed, its workers stop; what workers leave behind is
reaped, and stopped at exit. NOTIFY_SOCKET is a path in a private 0700 directory: only
this uid and root can send, and only workers and their descendants are heard.

Exit status: 0 when stopped by SIGTERM or SIGINT, 1 when the first generation did not get
ready, 2 on a usage or system error (a socket that cannot be made, for one).

Example:
  sockctl serve --listen http=127.0.0.1:8080 --workers 2 -- node server.js
`;

const OPTIONS = {
  listen: { type: 'string', multiple: true },
  workers: { type: 'string' },
  'reuse-port': { type: 'boolean' },
  'recreate-listeners': { type: 'boolean' },
  'ready-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'ready-after': { type: 'string' },
  'stop-signal': { type: 'string' },
  'max-draining': { type: 'string' },
  'log-format': { type: 'string' },
  'pid-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `OPTION=VALUE` of a --listen spec, checked later as listen() checks sockopts. */
function socketOption(name: string, text: string, spec: string): [string, boolean | number] {
  const option = (SOCKET_OPTIONS as Record<string, { kind: string; readOnly?: boolean }>)[name];
  if (option === undefined || option.readOnly || (option.kind !== 'bool' && option.kind !== 'int')) {
    throw new UsageError(`--listen ${spec}: '${name}' is not a writable socket option that takes a flag or a number`);
  }
  if (option.kind === 'bool') {
    if (!/^(1|0|true|false|yes|no|on|off)$/.test(text)) throw new UsageError(`--listen ${spec}: ${name} takes 1 or 0, not '${text}'`);
    return [name, /^(1|true|yes|on)$/.test(text)];
  }
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--listen ${spec}: ${name} takes an integer, not '${text}'`);
  return [name, Number(text)];
}

/**
 * `[NAME=]HOST:PORT`, `NAME=unix:/PATH` or `NAME=udp:HOST:PORT`, then `,key=value` options;
 * a name as systemd's FileDescriptorName= allows (LISTEN_FDNAMES is ':'-separated).
 */
export function parseListen(text: string): ListenSpec {
  const [address = '', ...extras] = text.split(',');
  const equals = address.indexOf('=');
  const named = equals !== -1 && !address.slice(0, equals).includes(':') && !address.startsWith('[');
  const name = named ? address.slice(0, equals) : 'unknown';
  const where = named ? address.slice(equals + 1) : address;
  if (!/^[\x21-\x7e]{1,255}$/.test(name) || name.includes(':') || name.includes(',')) {
    throw new UsageError(`--listen: the name '${name}' must be 1 to 255 printable ASCII characters without ':' or ','`);
  }
  const options = new Map<string, string>();
  for (const extra of extras) {
    const at = extra.indexOf('=');
    if (at <= 0) throw new UsageError(`--listen ${text}: '${extra}' must be key=value`);
    if (options.has(extra.slice(0, at))) throw new UsageError(`--listen ${text}: '${extra.slice(0, at)}' is given twice`);
    options.set(extra.slice(0, at), extra.slice(at + 1));
  }
  const backlogText = options.get('backlog');
  options.delete('backlog');
  const backlog = integer(backlogText, 'listen backlog', 1, 2 ** 31 - 1);
  if (where.startsWith('unix:')) {
    const path = where.slice(5);
    if (!path.startsWith('/') || path.includes('\0') || Buffer.byteLength(path) > 107) {
      throw new UsageError(`--listen ${text}: a UNIX socket needs an absolute path of at most 107 bytes`);
    }
    const modeText = options.get('mode');
    options.delete('mode');
    if (modeText !== undefined && !/^0?[0-7]{3}$/.test(modeText)) throw new UsageError(`--listen ${text}: mode must be octal, as 0660`);
    if (options.size > 0) throw new UsageError(`--listen ${text}: a UNIX socket takes backlog= and mode= only`);
    return { kind: 'unix', name, path, ...(backlog !== undefined && { backlog }), ...(modeText !== undefined && { mode: parseInt(modeText, 8) }) };
  }
  const udp = where.startsWith('udp:');
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(udp ? where.slice(4) : where);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`--listen must be [NAME=]HOST:PORT, NAME=unix:/PATH or NAME=udp:HOST:PORT (IPv6 as [::1]:8080), with a port from 0 to 65535, not '${text}'`);
  }
  if (options.has('mode')) throw new UsageError(`--listen ${text}: mode= is for UNIX sockets`);
  const sockopts = Object.fromEntries([...options].map(([key, value]) => socketOption(key, value, text)));
  const host = match[1] ?? match[2]!;
  if (udp) {
    if (backlog !== undefined) throw new UsageError(`--listen ${text}: a UDP socket has no backlog`);
    return { kind: 'udp', name, host, port, sockopts };
  }
  return { kind: 'tcp', name, host, port, sockopts, ...(backlog !== undefined && { backlog }) };
}

function stopSignal(text: string | undefined): NodeJS.Signals {
  if (text === undefined) return 'SIGTERM';
  const name = (text.startsWith('SIG') ? text : `SIG${text}`).toUpperCase();
  if (!Object.hasOwn(osConstants.signals, name) || name === 'SIGKILL' || name === 'SIGSTOP') {
    throw new UsageError(`--stop-signal must be a signal name such as TERM, INT or QUIT, not '${text}'`);
  }
  return name as NodeJS.Signals;
}

type Format = 'text' | 'json';

function logger(format: Format): (line: string, fields?: LogFields) => void {
  return (line, fields) => {
    const time = new Date().toISOString();
    process.stderr.write(format === 'json' ? `${JSON.stringify({ time, pid: process.pid, msg: line, ...fields })}\n` : `${time} sockctl serve: ${line}\n`);
  };
}

interface Parsed {
  options: SupervisorOptions;
  pidFile: string | undefined;
}

function parse(args: string[]): Parsed | 'help' {
  const separator = args.indexOf('--');
  const own = separator === -1 ? args : args.slice(0, separator);
  let values;
  try {
    ({ values } = parseArgs({ args: own, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    const positional = /Unexpected argument '([^']*)'/.exec((error as Error).message);
    if (positional !== null && separator === -1) throw new UsageError(`'${positional[1]}': the command goes after --, as in sockctl serve --listen 127.0.0.1:8080 -- ${positional[1]}`);
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const command = separator === -1 ? [] : args.slice(separator + 1);
  if (command.length === 0) throw new UsageError('no command: put it after --');
  const listen = (values.listen ?? []).map(parseListen);
  if (listen.length === 0) throw new UsageError('--listen is needed at least once');
  if (values['recreate-listeners'] && !values['reuse-port']) throw new UsageError('--recreate-listeners goes with --reuse-port');
  if (values['reuse-port'] && listen.some((spec) => spec.kind === 'unix')) throw new UsageError('--reuse-port is for TCP and UDP listeners: a UNIX socket path is shared');
  const format = values['log-format'] ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be text or json, not '${format}'`);
  const ms = (option: 'ready-timeout' | 'drain-timeout' | 'ready-after') => integer(values[option], option, 0, 2 ** 31 - 1);
  return {
    options: {
      listen,
      workers: integer(values.workers, 'workers', 1, 1024) ?? 1,
      reusePort: values['reuse-port'] ? (values['recreate-listeners'] ? 'recreate' : 'keep') : false,
      readyTimeoutMs: ms('ready-timeout') ?? 30_000,
      drainTimeoutMs: ms('drain-timeout') ?? 30_000,
      readyAfterMs: ms('ready-after'),
      stopSignal: stopSignal(values['stop-signal']),
      maxDraining: integer(values['max-draining'], 'max-draining', 1, 1024) ?? 3,
      command: command[0]!,
      args: command.slice(1),
      log: logger(format),
    },
    pidFile: values['pid-file'],
  };
}

/** Writes our pid at `path`, never through a link (O_NOFOLLOW). */
function writePidFile(path: string): void {
  const fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
}

/** Removes the pid file if it still holds our pid. */
function removePidFile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // gone, or not ours to remove
  }
}

const SIGNALS = ['SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGTERM', 'SIGINT'] as const;

export async function runServe(args: string[]): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = parse(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sockctl serve: ${error.message}\nsee sockctl serve --help\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const { options, pidFile } = parsed;
  // SIGTERM or SIGINT during the start stops it at once; other signals wait for it.
  const starting = new AbortController();
  let stopRequested: (() => void) | undefined;
  let supervisor: Supervisor | undefined;
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    if (signal === 'SIGTERM' || signal === 'SIGINT') {
      if (supervisor === undefined) starting.abort();
      else stopRequested?.();
    } else if (supervisor === undefined) {
      options.log(`${signal} ignored: the first generation is still starting`, { event: 'signal-ignored' });
    } else if (signal === 'SIGHUP') void supervisor.reload();
    else if (signal === 'SIGTTIN') void supervisor.scaleUp();
    else void supervisor.scaleDown();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    if (pidFile !== undefined) {
      try {
        writePidFile(pidFile);
      } catch (error) {
        process.stderr.write(`sockctl serve: --pid-file ${pidFile}: ${(error as Error).message}\n`);
        return 2;
      }
    }
    options.log(`starting, pid ${process.pid}`, { event: 'start' });
    try {
      supervisor = await Supervisor.start(options, starting.signal);
    } catch (error) {
      if (starting.signal.aborted) {
        options.log('stopped during the start', { event: 'stopped' });
        return 0;
      }
      const system = typeof (error as { syscall?: unknown }).syscall === 'string';
      options.log(`${system ? '' : 'start failed: '}${(error as Error).message}`, { event: 'start-failed' });
      return system ? 2 : 1;
    }
    const listening = options.listen.map((spec, i) => describeListener(spec, supervisor!.ports[i]));
    options.log(`serving ${listening.join(' ')}`, { event: 'serving' });
    const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
    await stopped;
    options.log('stopping', { event: 'stopping' });
    await supervisor.stop();
    options.log('stopped', { event: 'stopped' });
    return 0;
  } finally {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
    if (pidFile !== undefined) removePidFile(pidFile);
  }
}

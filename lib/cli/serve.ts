// `sockctl serve`: holds the listeners and runs a command on them by the systemd protocol;
// SIGHUP reloads with nothing dropped, SIGTTIN/SIGTTOU add or remove a worker (as
// gunicorn), SIGTERM/SIGINT stop everything. A thin layer over serve() (lib/serve/serve.ts):
// the command line, signals, the pid file and the log format.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { parseArgs } from 'node:util';
import { integer, UsageError } from './usage';
import { serve, type ServeHandle, type ServeLogEntry, type ServeOptions } from '../serve/serve';
import { parseListen } from '../serve/spec';

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
  SIGUSR2            replace sockctl itself: a new sockctl serve with the same command line
                     (a newly installed sockctl or Node is picked up) takes the sockets and
                     the control socket over and starts its generation; then this one drains
                     its workers and exits 0. If the new one fails, this one serves on.
                     Refused as PID 1, and with --reuse-port

Options:
  --listen SPEC      a listening socket (repeatable), in LISTEN_FDS order:
                       [NAME=]HOST:PORT   TCP (IPv6 as [::1]:8080; port 0: the kernel
                                          chooses, printed at start)
                       NAME=unix:/PATH    a UNIX stream socket (a stale socket file is
                                          replaced, any other file refused; removed at stop)
                       NAME=udp:HOST:PORT a UDP socket
                       NAME               a socket the service manager passed (LISTEN_FDS)
                     each followed by ,backlog=N  ,mode=0660 (unix)  or ,OPTION=VALUE, any
                     pre-bind socket option by its C name (TCP_NODELAY=1, SO_RCVBUF=262144,
                     TCP_DEFER_ACCEPT=5: accepted sockets inherit them). NAME goes in
                     LISTEN_FDNAMES (default 'unknown'). Started with LISTEN_FDS (a systemd
                     socket unit, systemd-socket-activate) and no --listen: every socket
                     passed, in order, with its name
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
  --rolling          reload slot by slot: worker i of the new generation started and ready,
                     then the old worker i stopped (it drains), then the next slot: one
                     process starts at a time. A slot that fails ends the reload: the slots
                     not reached keep their old workers, those replaced their new ones
  --keep-connections  on a reload, each idle keep-alive connection of the old generation
                     is handed to the new one (SCM_RIGHTS) instead of closed: no new
                     handshake, no close race. Node apps using sockctl's listen() and drain();
                     TLS and upgraded connections are drained as before
  --max-draining N   old generations draining at once (default 3); past it the oldest one's
                     drain is cut short (SIGKILL), so slow clients cannot pile them up
  --log-format FMT   text (default: an ISO time, then the message) or json (one object a
                     line: time, pid, msg, and where they apply event, generation, worker,
                     workerPid)
  --pid-file PATH    sockctl's pid, written at start, removed at stop
  --control PATH     a UNIX socket (0600; same uid or root) for sockctl reload --control
                     PATH (waits, prints the reload's receipt) and sockctl status
  -h, --help         this text

Under a service manager (NOTIFY_SOCKET set for sockctl itself) it speaks Type=notify-reload:
READY=1, RELOADING=1 with MONOTONIC_USEC, READY=1 again when a reload ends (a failed one
too: see sockctl reload for the truth), STATUS=, STOPPING=1, WATCHDOG=1.

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
  rolling: { type: 'boolean' },
  'keep-connections': { type: 'boolean' },
  'log-format': { type: 'string' },
  'pid-file': { type: 'string' },
  control: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function stopSignal(text: string | undefined): NodeJS.Signals {
  if (text === undefined) return 'SIGTERM';
  const name = (text.startsWith('SIG') ? text : `SIG${text}`).toUpperCase();
  if (!Object.hasOwn(osConstants.signals, name) || name === 'SIGKILL' || name === 'SIGSTOP') {
    throw new UsageError(`--stop-signal must be a signal name such as TERM, INT or QUIT, not '${text}'`);
  }
  return name as NodeJS.Signals;
}

type Format = 'text' | 'json';

function printer(format: Format): (entry: ServeLogEntry) => void {
  return ({ time, msg, ...fields }) =>
    process.stderr.write(format === 'json' ? `${JSON.stringify({ time, pid: process.pid, msg, ...fields })}\n` : `${time} sockctl serve: ${msg}\n`);
}

interface Parsed {
  options: ServeOptions;
  print: (entry: ServeLogEntry) => void;
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
  let listen;
  try {
    listen = values.listen?.map(parseListen);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const inherit = process.env.LISTEN_FDS !== undefined;
  if (listen === undefined && !inherit) throw new UsageError('--listen is needed at least once (or sockets from the service manager: LISTEN_FDS)');
  if (values['recreate-listeners'] && !values['reuse-port']) throw new UsageError('--recreate-listeners goes with --reuse-port');
  if (values.rolling && values['recreate-listeners']) throw new UsageError('--rolling keeps each slot\'s sockets: not with --recreate-listeners');
  if (values['reuse-port'] && listen?.some((spec) => spec.kind === 'unix' || spec.kind === 'inherited')) {
    throw new UsageError('--reuse-port is for TCP and UDP listeners: a UNIX socket path, or a socket from the manager, is shared');
  }
  const format = values['log-format'] ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be text or json, not '${format}'`);
  const ms = (option: 'ready-timeout' | 'drain-timeout' | 'ready-after') => integer(values[option], option, 0, 2 ** 31 - 1);
  const print = printer(format);
  return {
    options: {
      ...(listen !== undefined && { listen }),
      command,
      workers: integer(values.workers, 'workers', 1, 1024) ?? 1,
      reusePort: values['reuse-port'] ?? false,
      recreateListeners: values['recreate-listeners'] ?? false,
      readyTimeoutMs: ms('ready-timeout') ?? 30_000,
      drainTimeoutMs: ms('drain-timeout') ?? 30_000,
      ...(ms('ready-after') !== undefined && { readyAfterMs: ms('ready-after') }),
      stopSignal: stopSignal(values['stop-signal']),
      maxDraining: integer(values['max-draining'], 'max-draining', 1, 1024) ?? 3,
      rolling: values.rolling ?? false,
      keepConnections: values['keep-connections'] ?? false,
      ...(values.control !== undefined && { control: values.control }),
      manager: true,
      subreaper: true,
      inherit,
      onLog: print,
    },
    print,
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

const SIGNALS = ['SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGTERM', 'SIGINT', 'SIGUSR2'] as const;

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
  const { options, print, pidFile } = parsed;
  const log = (msg: string, event: string) => print({ time: new Date().toISOString(), msg, event });
  // SIGTERM or SIGINT during the start stops it at once; other signals wait for it.
  const starting = new AbortController();
  let stopRequested: (() => void) | undefined;
  let handle: ServeHandle | undefined;
  let target = options.workers ?? 1;
  // SIGUSR2: a new sockctl serve with this command line takes over; once it is ready this
  // one has retired its workers, and exits 0. One at a time.
  let replacing = false;
  const replace = (current: ServeHandle): void => {
    if (replacing) return log('SIGUSR2 ignored: a replacement is already under way', 'signal-ignored');
    replacing = true;
    log('replacing this supervisor: starting a new one with the same command line', 'replacing');
    current
      .replace([process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)])
      .then(
        (pid) => {
          log(`replaced by pid ${pid}; its generation serves, ours has drained`, 'replaced');
          replaced = true;
          stopRequested?.();
        },
        (error: Error) => log(`replacement failed: ${error.message}; this supervisor (pid ${process.pid}) keeps serving`, 'replace-failed'),
      )
      .finally(() => (replacing = false));
  };
  let replaced = false;
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    if (signal === 'SIGTERM' || signal === 'SIGINT') {
      if (handle === undefined) starting.abort();
      else stopRequested?.();
    } else if (handle === undefined) {
      log(`${signal} ignored: the first generation is still starting`, 'signal-ignored');
    } else if (signal === 'SIGHUP') void handle.reload();
    else if (signal === 'SIGUSR2') replace(handle);
    else {
      target = Math.max(1, Math.min(1024, target + (signal === 'SIGTTIN' ? 1 : -1)));
      if (signal === 'SIGTTOU' && handle.status().workers.length <= 1) log('scale down refused: 1 worker is the least', 'scale-refused');
      else void handle.scale(target).then((reached) => (target = reached));
    }
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
    log(`starting, pid ${process.pid}`, 'start');
    try {
      const takeOverFrom = process.env.SOCKCTL_UPGRADE;
      delete process.env.SOCKCTL_UPGRADE;
      handle = await serve({ ...options, ...(takeOverFrom !== undefined && { takeOverFrom }), signal: starting.signal });
    } catch (error) {
      if (starting.signal.aborted) {
        log('stopped during the start', 'stopped');
        return 0;
      }
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_INVALID_ARG_VALUE') {
        process.stderr.write(`sockctl serve: ${(error as Error).message}\nsee sockctl serve --help\n`);
        return 2;
      }
      const system = typeof (error as { syscall?: unknown }).syscall === 'string';
      log(`${system ? '' : 'start failed: '}${(error as Error).message}`, 'start-failed');
      return system ? 2 : 1;
    }
    log(`serving ${handle.sockets.join(' ')}`, 'serving');
    const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
    await stopped;
    if (replaced) return 0;
    log('stopping', 'stopping');
    await handle.stop();
    log('stopped', 'stopped');
    return 0;
  } finally {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
    if (pidFile !== undefined) removePidFile(pidFile);
  }
}

// `sockctl serve`: holds the listeners and runs a command on them by the systemd protocol;
// SIGHUP reloads with nothing dropped, SIGTTIN/SIGTTOU add or remove a worker (as
// gunicorn), SIGTERM/SIGINT stop everything. The supervision itself is lib/serve/.
import { parseArgs } from 'node:util';
import { integer, UsageError } from './usage';
import { Supervisor, type ListenSpec, type SupervisorOptions } from '../serve/supervisor';

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
  SIGTTIN / SIGTTOU  one worker more / one fewer (the last one)
  SIGTERM / SIGINT   stop every worker (SIGTERM, then SIGKILL after --drain-timeout), exit

Options:
  --listen [NAME=]HOST:PORT  a listening socket (repeatable; IPv6 as [::1]:8080; port 0:
                     the kernel chooses, printed at start). NAME goes in LISTEN_FDNAMES
                     (default 'unknown')
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
  -h, --help         this text

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
  help: { type: 'boolean', short: 'h' },
} as const;

/** `[NAME=]HOST:PORT`; a name as systemd's FileDescriptorName= allows (LISTEN_FDNAMES is ':'-separated). */
export function parseListen(text: string): ListenSpec {
  const equals = text.indexOf('=');
  const name = equals === -1 ? 'unknown' : text.slice(0, equals);
  const where = equals === -1 ? text : text.slice(equals + 1);
  if (!/^[\x21-\x7e]{1,255}$/.test(name) || name.includes(':')) {
    throw new UsageError(`--listen: the name '${name}' must be 1 to 255 printable ASCII characters without ':'`);
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(where);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`--listen must be [NAME=]HOST:PORT (IPv6 as [::1]:8080), with a port from 0 to 65535, not '${text}'`);
  }
  return { name, host: match[1] ?? match[2]!, port };
}

function parse(args: string[]): SupervisorOptions | 'help' {
  const separator = args.indexOf('--');
  const own = separator === -1 ? args : args.slice(0, separator);
  const { values } = parseArgs({ args: own, options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  const command = separator === -1 ? [] : args.slice(separator + 1);
  if (command.length === 0) throw new UsageError('no command: put it after --');
  const listen = (values.listen ?? []).map(parseListen);
  if (listen.length === 0) throw new UsageError('--listen is needed at least once');
  if (values['recreate-listeners'] && !values['reuse-port']) throw new UsageError('--recreate-listeners goes with --reuse-port');
  const ms = (option: 'ready-timeout' | 'drain-timeout' | 'ready-after') => integer(values[option], option, 0, 2 ** 31 - 1);
  return {
    listen,
    workers: integer(values.workers, 'workers', 1, 1024) ?? 1,
    reusePort: values['reuse-port'] ? (values['recreate-listeners'] ? 'recreate' : 'keep') : false,
    readyTimeoutMs: ms('ready-timeout') ?? 30_000,
    drainTimeoutMs: ms('drain-timeout') ?? 30_000,
    readyAfterMs: ms('ready-after'),
    command: command[0]!,
    args: command.slice(1),
    log: (line) => process.stderr.write(`sockctl serve: ${line}\n`),
  };
}

const SIGNALS = ['SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGTERM', 'SIGINT'] as const;

export async function runServe(args: string[]): Promise<number> {
  let options: SupervisorOptions | 'help';
  try {
    options = parse(args);
  } catch (error) {
    process.stderr.write(`sockctl serve: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  // Signals that come during the start wait for it (a SIGTERM then stops what started).
  let stopRequested: (() => void) | undefined;
  const early = new Set<string>();
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    if (supervisor === undefined) return void early.add(signal);
    if (signal === 'SIGHUP') void supervisor.reload();
    else if (signal === 'SIGTTIN') void supervisor.scaleUp();
    else if (signal === 'SIGTTOU') void supervisor.scaleDown();
    else stopRequested?.();
  };
  let supervisor: Supervisor | undefined;
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    try {
      supervisor = await Supervisor.start(options);
    } catch (error) {
      const system = typeof (error as { syscall?: unknown }).syscall === 'string';
      process.stderr.write(`sockctl serve: ${system ? '' : 'start failed: '}${(error as Error).message}\n`);
      return system ? 2 : 1;
    }
    const listening = options.listen.map((spec, i) => `${spec.name}=${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${supervisor!.ports[i]}`);
    options.log(`serving ${listening.join(' ')}`);
    const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
    if (early.has('SIGTERM') || early.has('SIGINT')) stopRequested!();
    await stopped;
    options.log('stopping');
    await supervisor.stop();
    options.log('stopped');
    return 0;
  } finally {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
  }
}

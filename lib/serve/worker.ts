// One child of `sockctl serve`, started by the systemd protocol (sd_listen_fds(3)): its
// listeners as descriptors 3, 4, ..., LISTEN_FDS and LISTEN_FDNAMES, LISTEN_PID equal to
// its own pid, and NOTIFY_SOCKET. Node's spawn cannot know the pid before the child
// exists, so the child is `sh`, which sets LISTEN_PID=$$ and execs the command in place:
// same pid. Every other descriptor of ours is close-on-exec, so these are all it gets.
//
// A supervisor killed with SIGKILL must not leave its workers serving on the port: on
// Linux `setpriv --pdeathsig SIG` (util-linux) runs first and sets PR_SET_PDEATHSIG, which
// survives the execs that follow, and `sh` then checks that its parent is still the
// supervisor: one that died before the prctl has already re-parented the child, which
// exits (125) instead of serving. The signal follows the thread that forked, and Node
// spawns from its main thread. Same pid throughout, so libuv's exit tracking still holds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { systemProcesses, type ChildProcessLike, type Processes } from './processes';
import { sockctlError } from '../core/errors';

export interface WorkerSpec {
  command: string;
  args: readonly string[];
  /** Descriptors that become 3, 4, ... in the child. */
  fds: readonly number[];
  names: readonly string[];
  notifySocket: string;
  generation: number;
  index: number;
  /** What stops it gracefully (default SIGTERM; lighttpd: SIGINT, nginx: SIGQUIT). */
  stopSignal: NodeJS.Signals;
  /** setpriv's path, for PR_SET_PDEATHSIG; null where there is none (not Linux). */
  setpriv: string | null;
  /** The relay's socket, with --keep-connections (SOCKCTL_KEEP_CONNECTIONS). */
  keepConnections?: string;
  /** How it is started and signalled (the system's unless a test's). */
  processes?: Processes;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** spawn's own failure (no /bin/sh, EAGAIN...). */
  error?: Error;
}

const EXEC_WITH_OWN_PID = 'LISTEN_PID=$$ exec "$0" "$@"';
// $1 is the supervisor's pid: a child whose parent is already someone else exits.
const CHECK_PARENT_THEN_EXEC = `[ "$PPID" = "$1" ] || exit 125; shift; ${EXEC_WITH_OWN_PID}`;

/** setpriv (util-linux) on PATH, where PR_SET_PDEATHSIG exists (Linux) and it knows --pdeathsig (util-linux >= 2.33); else null. */
export function findSetpriv(): string | null {
  if (process.platform !== 'linux') return null;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).concat(['/usr/bin', '/bin'])) {
    if (dir === '' || !existsSync(join(dir, 'setpriv'))) continue;
    const help = spawnSync(join(dir, 'setpriv'), ['--help'], { encoding: 'utf8', timeout: 5000 });
    return help.stdout?.includes('--pdeathsig') ? join(dir, 'setpriv') : null;
  }
  return null;
}

function commandLine(spec: WorkerSpec): [string, string[]] {
  if (spec.setpriv === null) return ['/bin/sh', ['-c', EXEC_WITH_OWN_PID, spec.command, ...spec.args]];
  const signal = spec.stopSignal.replace(/^SIG/, '');
  return [spec.setpriv, ['--pdeathsig', signal, '/bin/sh', '-c', CHECK_PARENT_THEN_EXEC, spec.command, String(process.pid), ...spec.args]];
}

// The supervisor's own activation variables (if it was started that way) are not its children's.
const NOT_INHERITED = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'SOCKCTL_UPGRADE', 'SOCKCTL_KEEP_CONNECTIONS'];

export class Worker {
  readonly generation: number;
  readonly index: number;
  readonly pid: number;
  /** Resolves once the child has exited (never rejects). */
  readonly exited: Promise<WorkerExit>;
  #exit: WorkerExit | undefined;
  #ready = false;
  /** When READY=1 came (Date.now()), for status. */
  readyAt: number | undefined;
  #onReady: (() => void) | undefined;
  #whenReady: Promise<void> | undefined;
  readonly #child: ChildProcessLike;
  readonly #stopSignal: NodeJS.Signals;
  readonly #processes: Processes;

  constructor(spec: WorkerSpec) {
    this.generation = spec.generation;
    this.index = spec.index;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of NOT_INHERITED) delete env[name];
    Object.assign(env, {
      LISTEN_FDS: String(spec.fds.length),
      LISTEN_FDNAMES: spec.names.join(':'),
      NOTIFY_SOCKET: spec.notifySocket,
      SOCKCTL_GENERATION: String(spec.generation),
      SOCKCTL_WORKER: String(spec.index),
    });
    if (spec.keepConnections !== undefined) env.SOCKCTL_KEEP_CONNECTIONS = spec.keepConnections;
    // detached: a session of its own, so a terminal's Ctrl-C reaches the supervisor only,
    // which then stops the children in order (SIGTERM, drain, SIGKILL), and so that the
    // SIGKILL can reach whatever the child started (its process group).
    this.#stopSignal = spec.stopSignal;
    this.#processes = spec.processes ?? systemProcesses;
    const [file, argv] = commandLine(spec);
    this.#child = this.#processes.spawn(file, argv, {
      stdio: ['ignore', 'inherit', 'inherit', ...spec.fds],
      env,
      detached: true,
    });
    this.pid = this.#child.pid ?? -1;
    this.exited = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        // Only spawn failures come here while no 'exit' will (kill errors are caught below).
        if (this.pid === -1) resolve((this.#exit = { code: null, signal: null, error }));
      });
      this.#child.once('exit', (code, signal) => {
        resolve((this.#exit = { code, signal }));
        this.#killGroup(); // what the child left behind: no orphan
      });
    });
  }

  get ready(): boolean {
    return this.#ready;
  }

  get exit(): WorkerExit | undefined {
    return this.#exit;
  }

  /** READY=1 came from this pid (or --ready-after elapsed). */
  markReady(): void {
    if (this.#ready || this.#exit !== undefined) return;
    this.#ready = true;
    this.readyAt = Date.now();
    this.#onReady?.();
  }

  /** Resolves when ready; rejects with the reason if the child exits first. */
  whenReady(): Promise<void> {
    this.#whenReady ??= this.#ready
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          this.#onReady = resolve;
          void this.exited.then((exit) => reject(sockctlError('ERR_SOCKCTL_NOT_READY', `${this.describe()} ${describeExit(exit)} before it was ready`)));
        });
    return this.#whenReady;
  }

  signal(name: NodeJS.Signals): void {
    if (this.#exit !== undefined || this.pid === -1) return;
    try {
      this.#processes.kill(this.pid, name);
    } catch {
      // ESRCH: it has just exited; the 'exit' event comes next.
    }
  }

  /** The stop signal (the app drains), then SIGKILL to its process group after `drainTimeoutMs`. */
  async stop(drainTimeoutMs: number): Promise<WorkerExit> {
    if (this.#exit !== undefined) return this.#exit;
    this.signal(this.#stopSignal);
    const timer = setTimeout(() => this.#killGroup(), drainTimeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cut short: SIGKILL to its process group now. */
  kill(): void {
    this.#killGroup();
  }

  #killGroup(): void {
    if (this.pid === -1) return;
    try {
      this.#processes.kill(-this.pid, 'SIGKILL');
    } catch {
      // ESRCH: nobody left in the group.
    }
  }

  describe(): string {
    return `generation ${this.generation} worker ${this.index} (pid ${this.pid})`;
  }
}

export function describeExit(exit: WorkerExit): string {
  if (exit.error !== undefined) return `could not start (${exit.error.message})`;
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

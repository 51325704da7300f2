// serve(options): the supervisor behind `sockctl serve`, as a library. It holds the
// listeners and runs `command` on them by the systemd protocol; reload() starts a new
// generation and resolves with the reload's receipt, scale(n) and stop() do what SIGTTIN,
// SIGTTOU and SIGTERM do to the command. With `manager`, it speaks to its own service
// manager (Type=notify-reload); with `control`, `sockctl reload|status --control PATH` reach it.
//
//   const s = await serve({ listen: ['http=127.0.0.1:8080'], command: ['node', 'app.js'], workers: 2 });
//   const receipt = await s.reload();   // { ok, generation, pids, readyMs, drainMs, lost }
//   await s.stop();
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { abortError, illegalConstructor, invalidArgType, invalidArgValue, sockctlError } from '../core/errors';
import { addressInfoOf } from '../core/describe';
import { checkPrivateDirectory } from '../core/paths';
import { readOptions, validateBoolean, validateInteger, validateString, INT32_MAX } from '../core/validate';
import { checkSignal, onAbort } from '../handover/abort';
import { listenFds } from '../handover/systemd';
import { ListeningDescriptor } from '../listen/listener';
import { ControlServer, type ControlRequest } from './control';
import { describeListener, type ListenSpec } from './listeners';
import { Manager } from './manager';
import { offerUpgrade, takeUpgrade, type TakenOver } from './upgrade';
import { parseListen } from './spec';
import { Supervisor, type LogFields, type ReloadReceipt, type ServeStatus, type SupervisorOptions } from './supervisor';

export type { ListenSpec, ReloadReceipt, ServeStatus, LogFields };

export interface ServeOptions {
  /**
   * The sockets, as `--listen` takes them ('http=127.0.0.1:8080,TCP_NODELAY=1',
   * 'api=unix:/run/app.sock,mode=0660', 'dns=udp:127.0.0.1:5353', or a bare name for a
   * socket the service manager passed) or as objects. Absent with `inherit`: every socket
   * the manager passed, in order.
   */
  listen?: readonly (string | ListenSpec)[];
  /** The program and its arguments. */
  command: readonly string[];
  /** Workers per generation (default 1). */
  workers?: number;
  /** One SO_REUSEPORT socket per worker (default false). */
  reusePort?: boolean;
  /** With reusePort: new sockets each generation (nginx's way; loses what is queued in the old). */
  recreateListeners?: boolean;
  /** A generation must be ready within this (default 30000). */
  readyTimeoutMs?: number;
  /** A stopped worker has this long to exit before SIGKILL (default 30000). */
  drainTimeoutMs?: number;
  /** Ready when still running after this long (programs that never send READY=1). */
  readyAfterMs?: number;
  /** What stops a worker gracefully (default 'SIGTERM'). */
  stopSignal?: NodeJS.Signals;
  /** Old generations draining at once (default 3); past it the oldest drain is cut short. */
  maxDraining?: number;
  /** Reload slot by slot: new worker i ready, then old worker i stopped (not with recreateListeners). */
  rolling?: boolean;
  /**
   * Hand each idle keep-alive connection of a draining worker to the new generation
   * instead of closing it (Node apps that use sockctl's listen() and drain(); default false).
   */
  keepConnections?: boolean;
  /** A UNIX socket path for `sockctl reload|status --control PATH` (0600, same uid or root). */
  control?: string;
  /** Speak sd_notify to this process's own NOTIFY_SOCKET: READY, RELOADING, STOPPING, STATUS, WATCHDOG (default false). */
  manager?: boolean;
  /**
   * Be a child subreaper (PR_SET_CHILD_SUBREAPER; PID 1 is one anyway): the orphans of
   * workers come back, are reaped, and are stopped at stop() (default false; the CLI: true).
   * Only for a process whose other children are all spawned by Node: any other child is
   * reaped by pid.
   */
  subreaper?: boolean;
  /** Take the sockets this process was passed by the systemd protocol (LISTEN_FDS; default false). */
  inherit?: boolean;
  /**
   * The path a supervisor being replaced offers its sockets at (SOCKCTL_UPGRADE, which
   * `sockctl serve` reads): they are served instead of new ones, and the old supervisor
   * is told once the first generation is ready.
   */
  takeOverFrom?: string;
  /** Each log line as it happens (also emitted as 'log' on the handle). */
  onLog?: (entry: ServeLogEntry) => void;
  /** Aborts the first start: every worker is stopped and serve() rejects with AbortError. */
  signal?: AbortSignal;
}

export interface ServeLogEntry extends LogFields {
  /** ISO 8601. */
  time: string;
  msg: string;
}

const KEYS = [
  'listen',
  'command',
  'workers',
  'reusePort',
  'recreateListeners',
  'readyTimeoutMs',
  'drainTimeoutMs',
  'readyAfterMs',
  'stopSignal',
  'maxDraining',
  'rolling',
  'keepConnections',
  'control',
  'manager',
  'inherit',
  'subreaper',
  'takeOverFrom',
  'onLog',
  'signal',
] as const;

function checkSpecs(value: unknown, inherited: Map<string, ListeningDescriptor> | null): ListenSpec[] {
  let specs: ListenSpec[];
  if (value === undefined) {
    if (inherited === null || inherited.size === 0) throw invalidArgValue('options.listen', value, 'must name at least one socket (or inherit the manager\'s)');
    specs = [...inherited.keys()].map((name) => ({ kind: 'inherited', name }));
  } else {
    if (!Array.isArray(value) || value.length === 0) throw invalidArgType('options.listen', 'a non-empty array', value);
    specs = [...(value as unknown[])].map((item, i) => {
      if (typeof item === 'string') return parseListen(item);
      if (typeof item !== 'object' || item === null) throw invalidArgType(`options.listen[${i}]`, 'a string or a ListenSpec', item);
      const spec = { ...(item as ListenSpec) };
      if (!['tcp', 'unix', 'udp', 'inherited'].includes(spec.kind)) throw invalidArgValue(`options.listen[${i}].kind`, spec.kind, "must be 'tcp', 'unix', 'udp' or 'inherited'");
      return spec;
    });
  }
  for (const spec of specs) {
    if (spec.kind !== 'inherited') continue;
    const listener = inherited?.get(spec.name);
    if (listener === undefined) {
      throw invalidArgValue('options.listen', spec.name, `names no socket the service manager passed (${[...(inherited?.keys() ?? [])].join(', ') || 'none'})`);
    }
    spec.listener = listener;
  }
  return specs;
}

/** The manager's sockets (LISTEN_FDS), by name; the first of a name wins, as sd_listen_fds_with_names users take it. */
function inheritSockets(): Map<string, ListeningDescriptor> {
  const byName = new Map<string, ListeningDescriptor>();
  for (const descriptor of listenFds()) {
    if (!descriptor.listening && descriptor.type === 'stream') {
      descriptor.close();
      continue;
    }
    const address = addressInfoOf(descriptor); // a systemd descriptor's address is the path for a UNIX socket
    if (byName.has(descriptor.name)) {
      descriptor.close();
      continue;
    }
    byName.set(descriptor.name, new ListeningDescriptor(descriptor.release(), address, 511));
  }
  return byName;
}

/** `promise`, or AbortError when `signal` aborts first: the wait ends, the operation goes on. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const off = onAbort(signal, reject);
    promise.then(
      (value) => (off(), resolve(value)),
      (error: unknown) => (off(), reject(error)),
    );
  });
}

// Only serve() makes a ServeHandle: `new ServeHandle(...)` from outside is refused.
const MAKE = Symbol('serve()');

export class ServeHandle extends EventEmitter {
  readonly #supervisor: Supervisor;
  readonly #manager: Manager | null;
  readonly #control: ControlServer | null;
  readonly #specs: readonly ListenSpec[];
  #stopped: Promise<void> | undefined;
  readonly #readyTimeoutMs: number;

  /** @internal serve() makes it; ERR_ILLEGAL_CONSTRUCTOR otherwise. */
  constructor(token: symbol, supervisor: Supervisor, manager: Manager | null, control: ControlServer | null, specs: readonly ListenSpec[], readyTimeoutMs: number) {
    if (token !== MAKE) throw illegalConstructor();
    super();
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#supervisor = supervisor;
    this.#manager = manager;
    this.#control = control;
    this.#specs = specs;
  }

  /** The bound ports, in `listen` order (0 for UNIX sockets). */
  get ports(): readonly number[] {
    return this.#supervisor.ports;
  }

  /** Each socket as bound: 'http=127.0.0.1:8080', 'api=unix:/run/app.sock'. */
  get sockets(): string[] {
    return this.#specs.map((spec, i) => describeListener(spec, this.ports[i]));
  }

  /**
   * A new generation on the same sockets. Resolves with its receipt once the old
   * generation has drained (ok: false, the old generation serving on, when it failed).
   * Reloads asked for while one runs are coalesced.
   */
  async reload(options?: { signal?: AbortSignal }): Promise<ReloadReceipt> {
    const signal = checkSignal(readOptions(options, 'options', ['signal'], 'an option of reload').signal);
    if (signal?.aborted) throw abortError(signal);
    void this.#manager?.reloading();
    return untilAborted(this.#supervisor.reload(), signal);
  }

  /** Scales to `workers` workers, one at a time; resolves with the count reached. */
  async scale(workers: number, options?: { signal?: AbortSignal }): Promise<number> {
    validateInteger(workers, 'workers', 1, 1024);
    const signal = checkSignal(readOptions(options, 'options', ['signal'], 'an option of scale').signal);
    if (signal?.aborted) throw abortError(signal);
    return untilAborted(this.#supervisor.scale(workers), signal);
  }

  status(): ServeStatus {
    return this.#supervisor.status();
  }

  /** Stops every worker (the stop signal, then SIGKILL after drainTimeoutMs) and closes the sockets. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#control?.close();
      // Not awaited first: a new supervisor's messages wait for the old one's MAINPID=.
      const said = this.#manager?.stopping();
      await this.#supervisor.stop();
      await said;
      this.#manager?.close();
    })();
    return this.#stopped;
  }

  /**
   * Replaces this supervisor with a new one started from `argv` (SIGUSR2): it takes the
   * sockets and the control socket over, starts its generation, and once it is ready this
   * one retires its workers and stops. Resolves with the new pid; rejects (this one serves
   * on) when the new one fails.
   */
  async replace(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
    if (process.pid === 1) throw sockctlError('ERR_SOCKCTL_REPLACE_UNSUPPORTED', 'PID 1 cannot hand over and exit without ending its namespace: restart the container instead');
    const specs = this.#specs;
    const { pid, child, release } = await offerUpgrade({
      names: specs.map((spec) => spec.name),
      listeners: this.#supervisor.sharedListeners,
      control: this.#control?.duplicate() ?? null,
      argv,
      env,
      readyTimeoutMs: this.#readyTimeoutMs,
    });
    this.#supervisor.spare(pid);
    child.unref();
    try {
      await this.#manager?.handOver(pid);
      await this.#manager?.barrier(); // systemd has taken MAINPID before this process goes
    } finally {
      release(); // the new one may speak to the manager now
    }
    this.#stopped ??= (async () => {
      this.#control?.close({ handedOver: true });
      await this.#supervisor.stop({ handedOver: true });
      await this.#manager?.flush();
      this.#manager?.close();
    })();
    await this.#stopped;
    return pid;
  }

  /** @internal a control request */
  async answer(request: ControlRequest): Promise<unknown> {
    if (request.command === 'status') return this.status();
    if (request.command === 'scale') return { workers: await this.scale(request.workers) };
    return this.reload();
  }
}

/** Starts the supervisor; resolves once the first generation is ready. */
export async function serve(options: ServeOptions): Promise<ServeHandle> {
  const o = readOptions(options, 'options', KEYS, 'an option of serve');
  if (!Array.isArray(o.command) || o.command.length === 0 || !o.command.every((part) => typeof part === 'string')) {
    throw invalidArgType('options.command', 'a non-empty array of strings', o.command);
  }
  const command = [...(o.command as string[])];
  const flag = (key: 'reusePort' | 'recreateListeners' | 'manager' | 'inherit' | 'rolling' | 'subreaper' | 'keepConnections') => (o[key] === undefined ? false : validateBoolean(o[key], `options.${key}`));
  const ms = (key: 'readyTimeoutMs' | 'drainTimeoutMs' | 'readyAfterMs', fallback?: number) => (o[key] === undefined ? fallback : validateInteger(o[key], `options.${key}`, 0, INT32_MAX));
  const stopSignal = o.stopSignal === undefined ? 'SIGTERM' : validateString(o.stopSignal, 'options.stopSignal');
  if (!Object.hasOwn(osConstants.signals, stopSignal) || stopSignal === 'SIGKILL' || stopSignal === 'SIGSTOP') {
    throw invalidArgValue('options.stopSignal', stopSignal, 'must be a signal that can be caught, as SIGTERM, SIGINT or SIGQUIT');
  }
  const control = o.control === undefined ? undefined : validateString(o.control, 'options.control');
  if (control !== undefined) checkPrivateDirectory(control, 'control', { sticky: false }); // before any worker starts
  if (o.onLog !== undefined && typeof o.onLog !== 'function') throw invalidArgType('options.onLog', 'of type function', o.onLog);
  const onLog = o.onLog as ((entry: ServeLogEntry) => void) | undefined;
  const signal = checkSignal(o.signal);
  const reusePort = flag('reusePort');
  if (flag('recreateListeners') && !reusePort) throw invalidArgValue('options.recreateListeners', true, 'goes with reusePort');
  if (flag('rolling') && flag('recreateListeners')) throw invalidArgValue('options.rolling', true, 'keeps each slot\'s sockets: not with recreateListeners');
  const inherited = flag('inherit') && process.env.LISTEN_FDS !== undefined ? inheritSockets() : null;
  const specs = checkSpecs(o.listen, inherited);
  if (reusePort && specs.some((spec) => spec.kind === 'unix' || spec.kind === 'inherited')) {
    throw invalidArgValue('options.reusePort', true, 'is for TCP and UDP listeners sockctl makes: a UNIX socket path, or a socket from the manager, is shared');
  }
  if (signal?.aborted) throw abortError(signal);
  const takeOverFrom = o.takeOverFrom === undefined ? undefined : validateString(o.takeOverFrom, 'options.takeOverFrom');
  let taken: TakenOver | undefined;
  if (takeOverFrom !== undefined) {
    taken = await takeUpgrade(takeOverFrom);
    if (taken.listeners.length !== specs.length) {
      for (const listener of [...taken.listeners, ...(taken.control === null ? [] : [taken.control])]) listener.close();
      await taken.fail(`${taken.listeners.length} sockets handed over for ${specs.length} --listen specs`);
      throw invalidArgValue('options.listen', specs.length, `does not match the ${taken.listeners.length} sockets the supervisor being replaced handed over`);
    }
    specs.forEach((spec, i) => (spec.listener = taken!.listeners[i]));
  }

  let handle: ServeHandle | undefined;
  const log = (msg: string, fields?: LogFields): void => {
    const entry: ServeLogEntry = { time: new Date().toISOString(), msg, ...fields };
    onLog?.(entry);
    handle?.emit('log', entry);
  };
  const manager = flag('manager') ? Manager.fromEnvironment(process.env, (error) => log(`the service manager's NOTIFY_SOCKET: ${error.message}`, { event: 'warning' })) : null;
  // A new supervisor says nothing to the manager, watchdog included, until the old one
  // has said MAINPID= (upgrade.ts): systemd with NotifyAccess=main would drop it. One that
  // fails first never speaks: the old one is still the main process.
  let unhold = (): void => {};
  if (taken !== undefined) manager?.after(new Promise<void>((resolve) => (unhold = resolve)));
  let supervisor: Supervisor | undefined;
  const supervisorOptions: SupervisorOptions = {
    listen: specs,
    workers: o.workers === undefined ? 1 : validateInteger(o.workers, 'options.workers', 1, 1024),
    reusePort: reusePort ? (flag('recreateListeners') ? 'recreate' : 'keep') : false,
    readyTimeoutMs: ms('readyTimeoutMs', 30_000)!,
    drainTimeoutMs: ms('drainTimeoutMs', 30_000)!,
    readyAfterMs: ms('readyAfterMs'),
    stopSignal: stopSignal as NodeJS.Signals,
    maxDraining: o.maxDraining === undefined ? 3 : validateInteger(o.maxDraining, 'options.maxDraining', 1, 1024),
    rolling: flag('rolling'),
    keepConnections: flag('keepConnections'),
    takenOver: taken !== undefined,
    reap: flag('subreaper') || process.pid === 1,
    command: command[0]!,
    args: command.slice(1),
    log,
    onReloaded: (outcome) => {
      const status = outcome.ok
        ? `generation ${outcome.generation} ready, ${supervisor?.workers ?? 0} worker(s)`
        : `reload failed: ${outcome.error}`;
      // READY=1 ends systemd's reload (a failed one too: the protocol has no word for failure).
      if (supervisor?.reloadPending) void manager?.status(status);
      else void manager?.ready(status);
    },
  };
  try {
    supervisor = await Supervisor.start(supervisorOptions, signal);
  } catch (error) {
    manager?.close();
    for (const listener of inherited?.values() ?? []) listener.close();
    taken?.control?.close();
    await taken?.fail((error as Error).message).catch(() => {});
    throw error;
  }
  let controlServer: ControlServer | null = null;
  // After the first generation started: stop it; sockets taken over (and their files) stay
  // the old supervisor's, which is told why if it still listens.
  const abandon = async (error: unknown): Promise<never> => {
    controlServer?.close({ handedOver: taken !== undefined });
    await supervisor.stop({ handedOver: taken !== undefined });
    manager?.close();
    await taken?.fail((error as Error).message).catch(() => {});
    throw error;
  };
  if (control !== undefined) {
    try {
      controlServer = await ControlServer.open(control, (request) => handle!.answer(request), taken?.control ?? undefined);
    } catch (error) {
      await abandon(error);
    }
  }
  handle = new ServeHandle(MAKE, supervisor, manager, controlServer, specs, supervisorOptions.readyTimeoutMs);
  if (taken !== undefined) {
    try {
      await taken.ready();
    } catch (error) {
      await abandon(error); // the old one is gone, or gave up on this one (and sends SIGTERM)
    }
    // Called with or without a manager: it is also what closes the hand-over channel.
    void taken.released().then(unhold);
  }
  void manager?.ready(`generation 1 ready, ${supervisor.workers} worker(s)`);
  return handle;
}

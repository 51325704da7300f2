// `sockctl serve`'s supervisor: it holds the listeners and runs generations of workers on
// them. A reload starts a new generation on the very same sockets, waits until every
// worker of it says READY=1, then stops the old one (SIGTERM: it drains); the sockets, and
// so their accept queues, never close. One operation at a time (reload, scale, stop).
// Which sockets each worker slot gets is the listener mode's policy (listener-policy.ts).
import type { ListeningDescriptor } from '../listen/listener';
import { abortError, sockctlError } from '../core/errors';
import { onAbort } from '../core/abort';
import { binding } from '../core/binding';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import type { ListenSpec } from './listeners';
import { listenerPolicy, type ListenerPolicy } from './listener-policy';
import { NotifyReceiver, type NotifyMessage } from './notify-receiver';
import { Reaper } from './reaper';
import { steer, unsteer } from './steering';
import { waitUntilIdle } from './leave-group';
import { listenDrops } from './kernel-counters';
import { getOption } from '../core/options';
import { describeExit, findSetpriv, Worker } from './worker';
import type { Processes } from './processes';
import { ConnectionRelay } from './connection-relay';
import { readdirSync } from 'node:fs';

export type { ListenSpec } from './listeners';

/** What a log line is about, for `--log-format json` (each field only where it applies). */
export interface LogFields {
  event?: string;
  generation?: number;
  worker?: number;
  workerPid?: number;
}

export interface SupervisorOptions {
  listen: readonly ListenSpec[];
  workers: number;
  reusePort: false | 'keep' | 'recreate';
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  /** Ready when still running after this long, for programs that never send READY=1. */
  readyAfterMs: number | undefined;
  /** What stops a worker gracefully (default SIGTERM). */
  stopSignal: NodeJS.Signals;
  /** Old generations allowed to drain at once; past it the oldest drain is cut short (SIGKILL). */
  maxDraining: number;
  backoff?: BackoffOptions;
  /**
   * Reload slot by slot: worker i of the new generation started and ready, then the old
   * worker i stopped, then the next slot (not with 'recreate' listeners). One process
   * starts at a time, so the machine keeps its cores for the load.
   */
  rolling?: boolean;
  /**
   * Be a child subreaper and reap (and, at stop, end) the orphans of workers. The process
   * must own its children then: what libuv did not spawn for this supervisor is reaped.
   */
  reap: boolean;
  /**
   * Hand idle keep-alive connections of a draining worker to the newest generation's
   * workers (SCM_RIGHTS through a relay here) instead of closing them.
   */
  keepConnections?: boolean;
  /**
   * The sockets came from a supervisor being replaced (SIGUSR2): if this one fails to
   * start, they and their UNIX socket files are still that one's, and stay.
   */
  takenOver?: boolean;
  /** Told when a reload ends, ready or failed (before the old generation has drained). */
  onReloaded?: (outcome: { ok: boolean; generation: number; error?: string }) => void;
  command: string;
  args: readonly string[];
  log: (line: string, fields?: LogFields) => void;
  /** How workers are started and signalled: the system's, unless a test gives its own. */
  processes?: Processes;
}

interface Generation {
  /** A rolling reload relabels the generation once every slot has its new worker. */
  id: number;
  workers: Worker[];
  /** Per worker slot, one socket per --listen ('recreate' mode: this generation's own). */
  slots: ListeningDescriptor[][];
  /** Per worker slot, the restart delays of a worker that keeps exiting. */
  backoff: Backoff[];
}

/** What a reload did, as the kernel counts it; every request a reload covered gets it. */
export interface ReloadReceipt {
  ok: boolean;
  /** The generation serving afterwards: the new one, or the old one when the reload failed. */
  generation: number;
  /** Its workers' pids. */
  pids: number[];
  /** From the start of the reload to READY=1 from every new worker (null when it failed). */
  readyMs: number | null;
  /** From then to the old generation's last exit (null when it failed). */
  drainMs: number | null;
  lost: {
    /**
     * Connections still queued (TCP_INFO's tcpi_unacked, read right before the close) in
     * listeners this reload closed: --recreate-listeners only; shared and kept listeners
     * are never closed by a reload.
     */
    queued: number;
    /** TcpExt ListenDrops during the reload: packets, for the whole network namespace (null: unknown). */
    listenDrops: number | null;
  };
  /**
   * With --keep-connections: connections the old generation handed to the new one, and
   * those nobody took (drained as without the option). Null without it.
   */
  connections: { kept: number; returned: number } | null;
  /** Why it failed: the old generation keeps serving. */
  error?: string;
}

/** What `sockctl status` shows. */
export interface ServeStatus {
  pid: number;
  generation: number;
  workers: { index: number; pid: number; generation: number; readySince: string | null; restarts: number }[];
  /** Old generations still draining. */
  draining: number[];
  listeners: { name: string; address: string; port: number; inode: number; recvQ: number | null }[];
  /** NOTIFY_SOCKET datagrams from processes that are not workers, dropped. */
  notifyDropped: number;
}

/** How often a wait for READY=1 says what it waits for. */
const WAITING_LOG_MS = 5000;

/** Descriptors this process inherited are not its children's to have. */
function closeInheritedOnExec(): void {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      binding.setCloexec(fd);
    } catch {
      // The directory's own descriptor, closed by now.
    }
  }
}

export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #listeners: ListenerPolicy;
  readonly #receiver: NotifyReceiver<Worker>;
  readonly #relay: ConnectionRelay<Worker> | null;
  readonly #reaper: Reaper | null;
  readonly #setpriv = findSetpriv();
  /** Every worker libuv spawned whose exit it has not reported yet. */
  readonly #byPid = new Map<number, Worker>();
  /** A rolling reload's new worker until it is ready: its exit fails the reload, nothing restarts it. */
  readonly #trial = new Set<Worker>();
  /** Children that are not workers and not orphans: the supervisor replacing this one. */
  readonly #spared = new Set<number>();
  /** Old generations still draining (oldest first), and failed ones being stopped. */
  readonly #draining: { gen: Generation; done: Promise<unknown> }[] = [];
  #current: Generation | undefined;
  #nextId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  /** The reload waiting behind the running operation: later requests join it. */
  #pendingReload: Promise<ReloadReceipt> | undefined;
  #stopping = false;

  private constructor(options: SupervisorOptions, listeners: ListenerPolicy) {
    this.#options = options;
    this.#listeners = listeners;
    this.#receiver = new NotifyReceiver(
      (pid) => this.#byPid.get(pid),
      (worker, message) => this.#onNotify(worker, message),
    );
    this.#relay = options.keepConnections
      ? new ConnectionRelay(this.#receiver.directory, (pid) => this.#receiver.speaksFor(pid), () => this.#adopters(), (line) => this.#log(line, { event: 'keep-connections' }))
      : null;
    this.#reaper = options.reap ? new Reaper(() => new Set([...this.#byPid.keys(), ...this.#spared])) : null;
    if (this.#setpriv === null && process.platform === 'linux') {
      this.#log('no setpriv with --pdeathsig (util-linux 2.33 or later) was found: workers will outlive a supervisor killed with SIGKILL', { event: 'warning' });
    }
    if (this.#reaper !== null && this.#reaper.subreaper !== true) this.#log(`not a child subreaper (${this.#reaper.subreaper}): orphans of workers go to init`, { event: 'warning' });
  }

  /**
   * Makes the listeners and starts the first generation; rejects if it is not ready, or
   * with AbortError when `signal` aborts first (a SIGTERM during the start): then every
   * worker is stopped before it rejects.
   */
  static async start(options: SupervisorOptions, signal?: AbortSignal): Promise<Supervisor> {
    closeInheritedOnExec();
    const supervisor = new Supervisor(options, listenerPolicy(options.listen, options.reusePort));
    try {
      if (signal?.aborted) throw abortError(signal);
      const gen = await supervisor.#startGeneration(signal);
      supervisor.#current = gen;
    } catch (error) {
      await supervisor.stop({ handedOver: options.takenOver === true });
      throw error;
    }
    return supervisor;
  }

  /** The bound ports, in --listen order (0 for UNIX sockets). */
  get ports(): readonly number[] {
    return this.#listeners.ports;
  }

  get workers(): number {
    return this.#count;
  }

  /** Worker slots: the serving generation's, which the next reload starts as many of. */
  get #count(): number {
    return this.#current?.workers.length ?? this.#options.workers;
  }

  /** `gen` cut back to `count` slots: its workers, their sockets and their restart delays together. */
  #shrink(gen: Generation, count: number): void {
    gen.workers.length = count;
    gen.slots.length = count;
    gen.backoff.length = count;
  }

  /** A reload waits behind the running operation. */
  get reloadPending(): boolean {
    return this.#pendingReload !== undefined;
  }

  /** Datagrams on NOTIFY_SOCKET from processes that are not workers (dropped). */
  get notifyDropped(): number {
    return this.#receiver.dropped;
  }

  /** Who takes kept connections: the ready workers of the newest generation (none once stopping). */
  #adopters(): Worker[] {
    const workers = (this.#current?.workers ?? []).filter((w) => w.ready && w.exit === undefined);
    if (this.#stopping || workers.length === 0) return [];
    const newest = Math.max(...workers.map((w) => w.generation));
    return workers.filter((w) => w.generation === newest);
  }

  #connections(before: { kept: number; returned: number } | null): { kept: number; returned: number } | null {
    if (this.#relay === null || before === null) return null;
    return { kept: this.#relay.kept - before.kept, returned: this.#relay.returned - before.returned };
  }

  #relayCounts(): { kept: number; returned: number } | null {
    return this.#relay === null ? null : { kept: this.#relay.kept, returned: this.#relay.returned };
  }

  #log(line: string, fields?: LogFields): void {
    this.#options.log(line, fields);
  }

  #workerFields(worker: Worker, event: string): LogFields {
    return { event, generation: worker.generation, worker: worker.index, workerPid: worker.pid };
  }

  #onNotify(worker: Worker, message: NotifyMessage): void {
    if (message.fields.get('READY') === '1') worker.markReady();
    const status = message.fields.get('STATUS');
    if (status !== undefined) this.#log(`${worker.describe()}: ${status}`, this.#workerFields(worker, 'status'));
  }

  /** Serialises operations; a stop lets the running one finish its current wait. */
  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(operation);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #spawn(gen: Generation, index: number, listeners: readonly ListeningDescriptor[], label = gen.id): Worker {
    const worker = new Worker({
      command: this.#options.command,
      args: this.#options.args,
      fds: listeners.map((l) => l.fd),
      names: this.#options.listen.map((spec) => spec.name),
      notifySocket: this.#receiver.address,
      generation: label,
      index,
      stopSignal: this.#options.stopSignal,
      setpriv: this.#setpriv,
      keepConnections: this.#relay?.address,
      processes: this.#options.processes,
    });
    gen.workers[index] = worker;
    gen.slots[index] = [...listeners];
    (gen.backoff[index] ??= new Backoff(this.#options.backoff ?? DEFAULT_BACKOFF)).started();
    if (worker.pid !== -1) this.#byPid.set(worker.pid, worker);
    void worker.exited.then((exit) => {
      this.#byPid.delete(worker.pid);
      this.#onExit(gen, worker, describeExit(exit), exit.error !== undefined);
    });
    const readyAfter = this.#options.readyAfterMs;
    if (readyAfter !== undefined) {
      const timer = setTimeout(() => worker.markReady(), readyAfter);
      void worker.exited.then(() => clearTimeout(timer));
    }
    return worker;
  }

  /** A worker of the serving generation that dies is started again, on the same sockets, after a growing delay. */
  #onExit(gen: Generation, worker: Worker, how: string, notStarted: boolean): void {
    if (this.#stopping || gen !== this.#current || gen.workers[worker.index] !== worker || this.#trial.has(worker)) return;
    const delay = gen.backoff[worker.index]!.next();
    const seconds = `${delay / 1000} s`;
    const restarts = gen.backoff[worker.index]!.failures;
    this.#log(
      notStarted
        ? `generation ${gen.id} worker ${worker.index} ${how}; trying again in ${seconds} (attempt ${restarts + 1})`
        : `${worker.describe()} ${how}; starting it again in ${seconds} (restart ${restarts})`,
      this.#workerFields(worker, 'exit'),
    );
    setTimeout(() => {
      if (this.#stopping || gen !== this.#current || gen.workers[worker.index] !== worker) return;
      const next = this.#spawn(gen, worker.index, gen.slots[worker.index]!);
      next.whenReady().then(
        () => this.#log(`${next.describe()} ready (restart ${restarts})`, this.#workerFields(next, 'ready')),
        () => {}, // its exit is logged by #onExit
      );
    }, delay).unref();
  }

  async #waitReady(workers: readonly Worker[], signal?: AbortSignal): Promise<void> {
    const timers: NodeJS.Timeout[] = [];
    let offAbort = (): void => {};
    const stopped = new Promise<never>((_, reject) => {
      timers.push(
        setTimeout(() => {
          const late = workers.filter((w) => !w.ready).map((w) => w.describe());
          reject(sockctlError('ERR_SOCKCTL_NOT_READY', `${late.join(', ')} not ready within ${this.#options.readyTimeoutMs} ms`));
        }, this.#options.readyTimeoutMs),
      );
      offAbort = onAbort(signal, reject);
    });
    // A wait that goes on says for what, and how to serve a program that never says it.
    if (this.#options.readyAfterMs === undefined) {
      timers.push(
        setInterval(() => {
          for (const w of workers.filter((w) => !w.ready && w.exit === undefined)) {
            this.#log(`waiting for READY=1 from ${w.describe()}; programs that never send it: --ready-after MS`, this.#workerFields(w, 'waiting'));
          }
        }, Math.min(WAITING_LOG_MS, this.#options.readyTimeoutMs)),
      );
    }
    try {
      await Promise.race([Promise.all(workers.map((w) => w.whenReady())), stopped]);
    } finally {
      for (const timer of timers) clearTimeout(timer);
      offAbort();
    }
  }

  async #startGeneration(signal?: AbortSignal): Promise<Generation> {
    const gen: Generation = { id: this.#nextId++, workers: [], slots: [], backoff: [] };
    try {
      for (let i = 0; i < this.#count; i++) this.#spawn(gen, i, await this.#listeners.forSlot(i, this.#current?.slots));
      await this.#waitReady(gen.workers, signal);
    } catch (error) {
      this.#retire(gen, false);
      throw error;
    }
    const pids = gen.workers.map((w) => w.pid).join(' ');
    this.#log(`generation ${gen.id}: ${gen.workers.length} worker(s) ready (pid ${pids})`, { event: 'ready', generation: gen.id });
    return gen;
  }

  /**
   * The stop signal to every worker of `gen`. 'recreate' mode closes its sockets once they
   * are gone, and resolves with how many connections were still queued in them (lost).
   */
  #retire(gen: Generation, log: boolean): Promise<number> {
    if (log) this.#log(`generation ${gen.id}: draining`, { event: 'draining', generation: gen.id });
    const done = Promise.all(gen.workers.map((w) => w.stop(this.#options.drainTimeoutMs))).then(() => {
      const queued = this.#listeners.retired(gen.slots);
      if (queued > 0) this.#log(`generation ${gen.id}: ${queued} queued connection(s) reset with its listeners`, { event: 'lost', generation: gen.id });
      return queued;
    });
    const entry = { gen, done };
    this.#draining.push(entry);
    void done.finally(() => this.#draining.splice(this.#draining.indexOf(entry), 1));
    // Slow clients must not pile generations up: past the limit the oldest drain ends now.
    const over = this.#draining.length - this.#options.maxDraining;
    for (const old of this.#draining.slice(0, Math.max(0, over))) {
      this.#log(`generation ${old.gen.id}: drain cut short (more than ${this.#options.maxDraining} generation(s) draining)`, { event: 'drain-cut', generation: old.gen.id });
      for (const w of old.gen.workers) w.kill();
    }
    return done;
  }

  /**
   * SIGHUP: a new generation on the same sockets; the old one drains once it is ready.
   * Requests while one runs are coalesced: at most one more waits behind it, and every
   * request made meanwhile gets that one's receipt, which comes once the old generation
   * has drained (or at once, when the reload failed).
   */
  reload(): Promise<ReloadReceipt> {
    if (this.#pendingReload !== undefined) return this.#pendingReload;
    const reload = this.#enqueue(async () => {
      this.#pendingReload = undefined;
      const started = Date.now();
      const dropsBefore = listenDrops();
      const relayBefore = this.#relayCounts();
      const old = this.#current!;
      const failed = (error: string): ReloadReceipt => ({
        ok: false,
        generation: old.id,
        pids: old.workers.map((w) => w.pid),
        readyMs: null,
        drainMs: null,
        lost: { queued: 0, listenDrops: null },
        connections: this.#connections(relayBefore),
        error,
      });
      if (this.#stopping) return () => Promise.resolve(failed('sockctl serve is stopping'));
      if (this.#options.rolling) return this.#roll(old, started, dropsBefore, failed, relayBefore);
      let gen: Generation;
      try {
        gen = await this.#startGeneration();
      } catch (error) {
        const reason = `${(error as Error).message}; generation ${old.id} keeps serving`;
        this.#log(`reload failed: ${reason}`, { event: 'reload-failed', generation: old.id });
        this.#options.onReloaded?.({ ok: false, generation: old.id, error: reason });
        return () => Promise.resolve(failed(reason));
      }
      this.#current = gen;
      const ready = Date.now();
      const retired = this.#retire(old, true);
      this.#options.onReloaded?.({ ok: true, generation: gen.id });
      // The operation ends here (the next one may start); the receipt waits for the drain.
      return async (): Promise<ReloadReceipt> => {
        const queued = await retired;
        const dropsAfter = listenDrops();
        return {
          ok: true,
          generation: gen.id,
          pids: gen.workers.map((w) => w.pid),
          readyMs: ready - started,
          drainMs: Date.now() - ready,
          lost: { queued, listenDrops: dropsBefore === null || dropsAfter === null ? null : dropsAfter - dropsBefore },
          connections: this.#logKept(old.id, gen.id, relayBefore),
        };
      };
    }).then((receipt) => receipt());
    this.#pendingReload = reload;
    return reload;
  }

  /**
   * A rolling reload of `gen`, in place: slot by slot, the new worker started and ready,
   * then the old one stopped (it drains). A slot whose new worker fails ends the reload:
   * that slot's old worker serves on, and so do the slots not reached yet; those already
   * replaced keep their new workers (the receipt lists what serves).
   */
  async #roll(
    gen: Generation,
    started: number,
    dropsBefore: number | null,
    failed: (error: string) => ReloadReceipt,
    relayBefore: { kept: number; returned: number } | null,
  ): Promise<() => Promise<ReloadReceipt>> {
    const id = this.#nextId++;
    const oldId = gen.id;
    const retired: Worker[] = [];
    const stops: Promise<unknown>[] = [];
    const retire = (): Promise<unknown> => {
      const done = Promise.all(stops);
      const entry = { gen: { id: oldId, workers: retired, slots: [], backoff: [] }, done: done.then(() => 0) };
      this.#draining.push(entry);
      void done.finally(() => this.#draining.splice(this.#draining.indexOf(entry), 1));
      return done;
    };
    for (let i = 0; i < gen.workers.length; i++) {
      const previous = gen.workers[i]!;
      const listeners = gen.slots[i]!;
      const next = this.#spawn(gen, i, listeners, id);
      this.#trial.add(next);
      try {
        await this.#waitReady([next]);
      } catch (error) {
        gen.workers[i] = previous;
        gen.slots[i] = listeners;
        void next.stop(this.#options.drainTimeoutMs);
        void retire();
        const reason = `${(error as Error).message}; ${i} of ${gen.workers.length} slot(s) were replaced, the others keep generation ${oldId}'s workers`;
        this.#log(`reload failed: ${reason}`, { event: 'reload-failed', generation: oldId });
        this.#options.onReloaded?.({ ok: false, generation: oldId, error: reason });
        const receipt = failed(reason);
        return () => Promise.resolve({ ...receipt, pids: gen.workers.map((w) => w.pid) });
      } finally {
        this.#trial.delete(next);
      }
      retired.push(previous);
      this.#log(`${next.describe()} ready; ${previous.describe()} draining`, this.#workerFields(next, 'ready'));
      stops.push(previous.stop(this.#options.drainTimeoutMs));
    }
    gen.id = id;
    const ready = Date.now();
    const pids = gen.workers.map((w) => w.pid);
    this.#log(`generation ${id}: ${gen.workers.length} worker(s) ready (pid ${pids.join(' ')})`, { event: 'ready', generation: id });
    this.#options.onReloaded?.({ ok: true, generation: id });
    const drained = retire();
    return async () => {
      await drained;
      const dropsAfter = listenDrops();
      return {
        ok: true,
        generation: id,
        pids,
        readyMs: ready - started,
        drainMs: Date.now() - ready,
        lost: { queued: 0, listenDrops: dropsBefore === null || dropsAfter === null ? null : dropsAfter - dropsBefore },
        connections: this.#logKept(oldId, id, relayBefore),
      };
    };
  }

  /** The reload's connection counts, logged. */
  #logKept(from: number, to: number, before: { kept: number; returned: number } | null): { kept: number; returned: number } | null {
    const counts = this.#connections(before);
    if (counts !== null) {
      const returned = counts.returned > 0 ? `; ${counts.returned} nobody took (drained)` : '';
      this.#log(`generation ${from}: ${counts.kept} connection(s) kept by generation ${to}${returned}`, { event: 'kept', generation: to });
    }
    return counts;
  }

  /** Generation, workers, listeners (inode and accept queue as the kernel has them now). */
  status(): ServeStatus {
    const gen = this.#current;
    return {
      pid: process.pid,
      generation: gen?.id ?? 0,
      workers: (gen?.workers ?? []).map((w) => ({
        index: w.index,
        pid: w.pid,
        generation: w.generation,
        readySince: w.readyAt === undefined ? null : new Date(w.readyAt).toISOString(),
        restarts: gen!.backoff[w.index]?.failures ?? 0,
      })),
      draining: this.#draining.map((d) => d.gen.id),
      listeners: (gen?.slots ?? []).flatMap((listeners) =>
        listeners.map((listener, j) => {
          const spec = this.#options.listen[j]!;
          const open = !listener.closed;
          return {
            name: spec.name,
            address: listener.address.address,
            port: listener.address.port,
            inode: open ? binding.describeSocket(listener.fd).inode : 0,
            recvQ: open && spec.kind === 'tcp' ? (getOption(listener, 'TCP_INFO').unacked ?? null) : null,
          };
        }),
      ).filter((row, i, rows) => rows.findIndex((other) => other.inode === row.inode) === i),
      notifyDropped: this.#receiver.dropped,
    };
  }

  /** Scales to `count` workers, one at a time; resolves with the count reached. */
  async scale(count: number): Promise<number> {
    while (!this.#stopping && this.#count !== count) {
      const changed = count > this.#count ? await this.scaleUp() : await this.scaleDown();
      if (!changed) break;
    }
    return this.#count;
  }

  /** SIGTTIN: one worker more. */
  scaleUp(): Promise<boolean> {
    return this.#enqueue(async () => {
      if (this.#stopping) return false;
      const gen = this.#current!;
      const index = this.#count;
      const perWorker = this.#listeners.perWorker;
      // Steered away from until its worker is ready: nothing waits in a queue nobody takes.
      const keep = this.#listeners.groups.map((group) => group.indicesWithout([]));
      if (perWorker) {
        try {
          this.#listeners.groups.forEach((_, j) => steer(gen.slots[0]![j]!.fd, keep[j]!));
        } catch (error) {
          this.#log(`scale up refused: the kernel refused the steering program (${(error as Error).message})`);
          this.#unsteerAll(gen);
          return false;
        }
      }
      let listeners: ListeningDescriptor[] = [];
      try {
        listeners = await this.#listeners.forNewSlot(gen.slots);
        const worker = this.#spawn(gen, index, listeners);
        await this.#waitReady([worker]);
      } catch (error) {
        const worker = gen.workers[index];
        this.#shrink(gen, index);
        this.#log(`scale up failed: ${(error as Error).message}; ${this.#count} worker(s) keep serving`, { event: 'scale-failed' });
        if (worker !== undefined) await worker.stop(this.#options.drainTimeoutMs);
        if (perWorker && listeners.length > 0) this.#listeners.close(listeners);
        if (perWorker) this.#unsteerAll(gen);
        return false;
      }
      if (perWorker) this.#unsteerAll(gen);
      this.#log(`scaled up to ${this.#count} worker(s)`);
      return true;
    });
  }

  #unsteerAll(gen: Generation): void {
    const first = gen.slots[0];
    if (first === undefined) return;
    for (const listener of first) {
      try {
        unsteer(listener.fd);
      } catch {
        // ENOENT: nothing attached.
      }
    }
  }

  /**
   * SIGTTOU: one worker fewer (the last slot). With reuse-port, its listeners leave their
   * groups without loss: new connections are steered away first, and they close only once
   * their accept queues are empty and no handshake is in progress for them.
   */
  scaleDown(): Promise<boolean> {
    return this.#enqueue(async () => {
      if (this.#stopping) return false;
      if (this.#count <= 1) {
        this.#log('scale down refused: 1 worker is the least');
        return false;
      }
      const gen = this.#current!;
      const index = this.#count - 1;
      const worker = gen.workers[index]!;
      const leaving = gen.slots[index]!;
      if (!this.#listeners.perWorker) {
        this.#shrink(gen, index);
        await worker.stop(this.#options.drainTimeoutMs);
        this.#log(`scaled down to ${this.#count} worker(s)`);
        return true;
      }
      const steerAway = () =>
        leaving.forEach((listener, j) => steer(listener.fd, this.#listeners.groups[j]!.indicesWithout([listener])));
      try {
        steerAway();
      } catch (error) {
        this.#log(`scale down refused: the kernel refused the steering program (${(error as Error).message}); keeping ${worker.describe()} and its listeners`);
        this.#unsteerAll(gen);
        return false;
      }
      try {
        // TCP_INFO tells a TCP listener's queue; a UDP socket's is not known (what it holds is lost).
        await waitUntilIdle(leaving.filter((_, j) => this.#options.listen[j]!.kind === 'tcp'), this.#options.drainTimeoutMs);
      } catch (error) {
        this.#log(`scale down failed: ${(error as Error).message}; keeping ${worker.describe()} and its listeners`);
        this.#unsteerAll(gen);
        return false;
      }
      this.#shrink(gen, index);
      // Again right before the close: the program indexes the group as it is now.
      steerAway();
      // Every process holding these sockets: this worker, and an older one still draining.
      const holders = [...this.#byPid.values()].filter((w) => w.index === index);
      for (const listener of leaving) listener.close();
      await Promise.all(holders.map((w) => w.stop(this.#options.drainTimeoutMs)));
      leaving.forEach((listener, j) => this.#listeners.groups[j]!.leave(listener));
      this.#unsteerAll(gen);
      this.#log(`scaled down to ${this.#count} worker(s)`);
      return true;
    });
  }

  /** A child of ours that is not a worker and must be left alone (the supervisor replacing this one). */
  spare(pid: number): void {
    this.#spared.add(pid);
  }

  /** The shared sockets, in --listen order, for the supervisor that replaces this one (not with --reuse-port). */
  get sharedListeners(): readonly ListeningDescriptor[] {
    return this.#listeners.handOver(this.#current?.slots ?? []);
  }

  /**
   * SIGTERM/SIGINT: every worker of every generation stopped, their orphans too, then the
   * sockets closed (our copies: with `handedOver`, the next supervisor's copies and UNIX
   * socket files stay).
   */
  async stop(options: { handedOver?: boolean } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const all = [...this.#byPid.values()];
    await Promise.all([...all.map((w) => w.stop(this.#options.drainTimeoutMs)), ...this.#draining.map((d) => d.done)]);
    await this.#reaper?.stopOrphans(Math.min(this.#options.drainTimeoutMs, 5000));
    this.#reaper?.close();
    this.#listeners.closeAll(options.handedOver === true);
    this.#relay?.close(); // its socket file first: the receiver removes the directory
    this.#receiver.close();
  }
}

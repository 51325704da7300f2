// `sockctl serve` speaking to its own service manager (systemd, when sockctl itself was
// started with NOTIFY_SOCKET), as sd_notify(3) and systemd.service(5)'s Type=notify-reload
// describe it: READY=1 once the first generation is ready; RELOADING=1 with MONOTONIC_USEC
// (CLOCK_MONOTONIC in µs: systemd >= 253 matches it against the start of its own reload,
// src/core/service.c, and leaves a reload waiting without it), then READY=1 with a STATUS=
// line saying how it ended; STOPPING=1; WATCHDOG=1 every half WATCHDOG_USEC when
// WATCHDOG_PID is ours (sent from the event loop: a stuck loop sends nothing). The
// workers' NOTIFY_SOCKET is sockctl's own receiver, never this one.
import { binding } from '../core/binding';
import { notifyAt, whenWritable } from '../handover/notify';

/** What a worker must not inherit of sockctl's own manager. */
export const MANAGER_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/** CLOCK_MONOTONIC in µs (libuv's hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

export class Manager {
  readonly #address: string;
  readonly #watchdog: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();
  readonly #onError: (error: Error) => void;

  private constructor(address: string, watchdogUsec: number | undefined, onError: (error: Error) => void) {
    this.#address = address;
    this.#onError = onError;
    if (watchdogUsec !== undefined) {
      this.#watchdog = setInterval(() => this.#send('WATCHDOG=1'), Math.max(1, Math.floor(watchdogUsec / 2000))).unref();
    }
  }

  /** The manager of this process, read from the environment; null when there is none. */
  static fromEnvironment(env: NodeJS.ProcessEnv, onError: (error: Error) => void): Manager | null {
    const address = env.NOTIFY_SOCKET;
    if (address === undefined || address === '') return null;
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    return new Manager(address, Number.isSafeInteger(usec) && usec > 0 && forUs ? usec : undefined, onError);
  }

  /** In order, one at a time; a failure is reported, never thrown at the supervisor. */
  #send(state: string): Promise<void> {
    this.#queue = this.#queue.then(() => notifyAt(this.#address, state, 5000).catch((error: Error) => this.#onError(error)));
    return this.#queue;
  }

  /** Holds every message until `event` settles (a new supervisor, until the old one's MAINPID=). */
  after(event: Promise<void>): void {
    this.#queue = this.#queue.then(() => event.catch(() => {}));
  }

  ready(status: string): Promise<void> {
    return this.#send(`READY=1\nSTATUS=${status}`);
  }

  /** A reload was asked for (each request gets its own, fresh timestamp). */
  reloading(): Promise<void> {
    return this.#send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`);
  }

  status(status: string): Promise<void> {
    return this.#send(`STATUS=${status}`);
  }

  stopping(): Promise<void> {
    return this.#send('STOPPING=1\nSTATUS=stopping');
  }

  /** Another process is the service's main process from now on (a replaced supervisor). */
  handOver(pid: number): Promise<void> {
    return this.#send(`MAINPID=${pid}\nSTATUS=replaced by pid ${pid}`);
  }

  /**
   * sd_notify_barrier(3): BARRIER=1 with the write end of a pipe, which the manager closes
   * once it has processed every message before it; resolves when the read end hangs up
   * (or after `timeoutMs`: a manager that does not know BARRIER keeps it until it exits).
   */
  async barrier(timeoutMs = 5000): Promise<void> {
    await this.#queue;
    const [read, write] = binding.pipe();
    let writeOpen = true;
    try {
      await notifyAt(this.#address, 'BARRIER=1', timeoutMs, undefined, write);
      binding.close(write);
      writeOpen = false;
      // A pipe's read end is never writable: the poll wakes on POLLHUP, when the last write end closes.
      await whenWritable(read, timeoutMs, undefined).catch(() => {});
    } catch (error) {
      this.#onError(error as Error);
    } finally {
      if (writeOpen) binding.close(write);
      binding.close(read);
    }
  }

  /** Waits for what was sent (before an exit). */
  flush(): Promise<void> {
    return this.#queue;
  }

  close(): void {
    clearInterval(this.#watchdog);
  }
}

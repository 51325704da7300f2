// The supervisor's failure paths with its processes replaced (lib/serve/processes.ts): a new
// worker that dies before it is ready, a generation never ready, a worker that ignores its
// stop signal, a rolling reload that fails halfway, a crash loop, and a replacement
// supervisor (SIGUSR2) that dies, fails, or never says ready. Each runs in milliseconds and
// every signal sent is recorded, so the tests say exactly who was signalled and who was
// not. The listeners, the NOTIFY_SOCKET receiver and the upgrade channel are real; the same
// paths with real processes are in serve.test.ts, serve-hardening.test.ts and
// serve-managed.test.ts.
import { EventEmitter } from 'node:events';
import type { SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binding } from '../lib/core/binding';
import { createListener } from '../lib/listen/listener';
import { listenInodes } from './helpers/serve';
import type { ChildProcessLike, Processes } from '../lib/serve/processes';
import { Supervisor, type SupervisorOptions } from '../lib/serve/supervisor';
import { offerUpgrade, takeUpgrade, UPGRADE_VARIABLE } from '../lib/serve/upgrade';

const isLinux = process.platform === 'linux';

/** What a fake worker does once started. */
type Behaviour =
  | 'ready' // runs; ready by --ready-after, stops on its stop signal
  | 'ready-by-notify' // sends READY=1 (as this process: its pid is ours), stops on its stop signal
  | 'exit' // exits with code 1 at once
  | 'never-ready' // runs and never says READY=1 (no --ready-after), stops on its stop signal
  | 'ignore-stop'; // like 'never-ready', and ignores the stop signal: only SIGKILL ends it

type FakeChild = EventEmitter &
  ChildProcessLike & {
    readonly pid: number;
    /** The inodes of the sockets it was given as descriptors 3, 4, ... */
    readonly inodes: number[];
    readonly generation: number;
    readonly index: number;
    readonly behaviour: Behaviour;
    alive: boolean;
  };

/** Fake pids, above any pid_max (2^22), so no signal could ever reach a real process by mistake. */
const FIRST_FAKE_PID = 5_000_000;

class FakeProcesses implements Processes {
  readonly children: FakeChild[] = [];
  readonly signals: [pid: number, signal: string][] = [];
  #nextPid = FIRST_FAKE_PID;
  readonly #decide: (generation: number, index: number) => Behaviour;

  constructor(decide: (generation: number, index: number) => Behaviour) {
    this.#decide = decide;
  }

  spawn(_file: string, _args: readonly string[], options: SpawnOptions): ChildProcessLike {
    const env = options.env!;
    const generation = Number(env.SOCKCTL_GENERATION);
    const index = Number(env.SOCKCTL_WORKER);
    const behaviour = this.#decide(generation, index);
    const emitter = new EventEmitter();
    const child: FakeChild = Object.assign(emitter, {
      pid: behaviour === 'ready-by-notify' ? process.pid : this.#nextPid++,
      inodes: (options.stdio as unknown[]).slice(3).map((fd) => binding.describeSocket(fd as number).inode),
      unref: () => {},
      generation,
      index,
      behaviour,
      alive: true,
    });
    this.children.push(child);
    if (behaviour === 'exit') setImmediate(() => this.#end(child, 1, null));
    if (behaviour === 'ready-by-notify') setImmediate(() => binding.notify(env.NOTIFY_SOCKET!, Buffer.from('READY=1')));
    return child;
  }

  kill(pid: number, signal: NodeJS.Signals): void {
    this.signals.push([pid, signal]);
    const child = this.children.find((c) => c.alive && c.pid === Math.abs(pid));
    if (child === undefined) throw Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' });
    if (signal === 'SIGKILL' || child.behaviour !== 'ignore-stop') setImmediate(() => this.#end(child, null, signal));
  }

  #end(child: FakeChild, code: number | null, signal: NodeJS.Signals | null): void {
    if (!child.alive) return;
    child.alive = false;
    child.emit('exit', code, signal);
  }

  /** Signals sent to `child` or its group, in order. */
  signalsTo(child: FakeChild): string[] {
    return this.signals.filter(([pid]) => Math.abs(pid) === child.pid).map(([pid, signal]) => (pid < 0 ? `group ${signal}` : signal));
  }

  of(generation: number): FakeChild[] {
    return this.children.filter((c) => c.generation === generation);
  }
}

function options(processes: Processes, logs: string[], more: Partial<SupervisorOptions> = {}): SupervisorOptions {
  return {
    listen: [{ kind: 'tcp', name: 'web', host: '127.0.0.1', port: 0 }],
    workers: 1,
    reusePort: false,
    readyTimeoutMs: 300,
    drainTimeoutMs: 100,
    readyAfterMs: 5,
    stopSignal: 'SIGTERM',
    maxDraining: 4,
    reap: false,
    command: 'fake-server',
    args: [],
    log: (line) => logs.push(line),
    processes,
    ...more,
  };
}

describe.skipIf(!isLinux)('supervisor failure paths, processes replaced (NOTIFY_SOCKET credentials are Linux only)', () => {
  for (const [behaviour, message] of [
    ['exit', /generation 1 worker 0 \(pid \d+\) exited with code 1 before it was ready/],
    ['never-ready', /generation 1 worker 0 \(pid \d+\) not ready within 100 ms/],
  ] as const) {
    it(`a first generation whose worker ${behaviour === 'exit' ? 'exits first' : 'is never ready'}: start rejects with ERR_SOCKCTL_NOT_READY, and no worker is left running`, async () => {
      const world = new FakeProcesses(() => behaviour);
      const started = Supervisor.start(options(world, [], { readyAfterMs: undefined, readyTimeoutMs: 100, drainTimeoutMs: 50 }));
      await expect(started).rejects.toThrow(message);
      await expect(started).rejects.toMatchObject({ code: 'ERR_SOCKCTL_NOT_READY', name: 'Error' });
      expect(world.of(1)).toHaveLength(1);
      expect(world.of(1).every((c) => !c.alive)).toBe(true);
    });
  }

  it('a new worker that exits before it is ready fails the reload; the old worker is sent nothing and keeps serving', async () => {
    const world = new FakeProcesses((generation) => (generation === 1 ? 'ready' : 'exit'));
    const logs: string[] = [];
    const supervisor = await Supervisor.start(options(world, logs));
    try {
      const [old] = world.of(1);
      const receipt = await supervisor.reload();
      expect(receipt).toMatchObject({ ok: false, generation: 1, pids: [old!.pid], readyMs: null, drainMs: null });
      expect(receipt.error).toMatch(/exited with code 1 before it was ready; generation 1 keeps serving/);
      expect(world.signalsTo(old!)).toEqual([]);
      expect(supervisor.status()).toMatchObject({ generation: 1, workers: [{ pid: old!.pid, generation: 1 }] });
      // The failed generation's worker is not restarted: nothing of generation 2 runs, and it was started once.
      expect(world.of(2)).toHaveLength(1);
      expect(world.of(2).every((c) => !c.alive)).toBe(true);
    } finally {
      await supervisor.stop();
    }
    expect(world.children.every((c) => !c.alive)).toBe(true);
  });

  it('a generation never ready within readyTimeoutMs fails the reload; its worker ignores SIGTERM and its group gets SIGKILL after drainTimeoutMs', async () => {
    const world = new FakeProcesses((generation) => (generation === 1 ? 'ready-by-notify' : 'ignore-stop'));
    const logs: string[] = [];
    const supervisor = await Supervisor.start(options(world, logs, { readyAfterMs: undefined, readyTimeoutMs: 100, drainTimeoutMs: 50 }));
    try {
      const [old] = world.of(1);
      expect(old!.pid).toBe(process.pid); // ready by READY=1 with our credentials
      const receipt = await supervisor.reload();
      const [late] = world.of(2);
      expect(receipt).toMatchObject({ ok: false, generation: 1, pids: [process.pid] });
      expect(receipt.error).toMatch(/generation 2 worker 0 \(pid \d+\) not ready within 100 ms/);
      // Stopped (the receipt does not wait for that): the stop signal, then, ignored, SIGKILL
      // to its process group once drainTimeoutMs has passed; the old one untouched.
      expect(world.signalsTo(late!)).toEqual(['SIGTERM']);
      expect(supervisor.status().draining).toEqual([2]); // docs/reloads.md: listed until it has exited
      for (let i = 0; i < 100 && late!.alive; i++) await new Promise((r) => setTimeout(r, 10));
      expect(world.signalsTo(late!).slice(0, 2)).toEqual(['SIGTERM', 'group SIGKILL']);
      expect(late!.alive).toBe(false);
      await new Promise((r) => setImmediate(r));
      expect(supervisor.status().draining).toEqual([]);
      expect(world.signalsTo(old!)).toEqual([]);
    } finally {
      await supervisor.stop();
    }
  });

  it('a rolling reload whose second slot fails: slot 0 runs its new worker, slot 1 keeps its old one, never signalled', async () => {
    const world = new FakeProcesses((generation, index) => (generation === 2 && index === 1 ? 'exit' : 'ready'));
    const logs: string[] = [];
    const supervisor = await Supervisor.start(options(world, logs, { workers: 2, rolling: true }));
    try {
      const [old0, old1] = world.of(1);
      const receipt = await supervisor.reload();
      const [new0, new1] = world.of(2);
      expect(receipt.ok).toBe(false);
      expect(receipt.error).toMatch(/1 of 2 slot\(s\) were replaced, the others keep generation 1's workers/);
      expect(receipt.pids).toEqual([new0!.pid, old1!.pid]);
      expect(world.signalsTo(old0!)[0]).toBe('SIGTERM'); // replaced: drained
      expect(world.signalsTo(old1!)).toEqual([]);
      expect(old1!.alive && new0!.alive && !new1!.alive).toBe(true);
    } finally {
      await supervisor.stop();
    }
  });

  it('a worker of the serving generation in a crash loop is restarted after doubling delays, capped, and only its slot', async () => {
    let starts = 0;
    const world = new FakeProcesses((_generation, index) => (index === 1 && starts++ > 0 ? 'exit' : 'ready'));
    const logs: string[] = [];
    const supervisor = await Supervisor.start(options(world, logs, { workers: 2, backoff: { firstMs: 10, maxMs: 40, stableMs: 60_000 } }));
    try {
      // Slot 1's first worker was ready; kill it from outside, as a crash would, and watch the loop.
      const [, first] = world.of(1);
      world.kill(first!.pid, 'SIGKILL');
      for (let i = 0; i < 200 && logs.filter((l) => l.includes('starting it again')).length < 6; i++) await new Promise((r) => setTimeout(r, 10));
      const delays = logs.filter((l) => l.includes('worker 1') && l.includes('starting it again')).map((l) => /again in ([\d.]+) s/.exec(l)![1]);
      expect(delays.slice(0, 6)).toEqual(['0.01', '0.02', '0.04', '0.04', '0.04', '0.04']);
      // Slot 0 was never restarted nor signalled.
      const slot0 = world.children.filter((c) => c.index === 0);
      expect(slot0).toHaveLength(1);
      expect(world.signalsTo(slot0[0]!)).toEqual([]);
    } finally {
      await supervisor.stop();
    }
    expect(world.children.every((c) => !c.alive)).toBe(true);
  });
});

describe.skipIf(!isLinux)('the worker count, kept by the serving generation (fake workers)', () => {
  it('a scale-up whose worker dies leaves the count as it was, and the next reload starts that many; a slot scaled away and back starts its restart count afresh', async () => {
    let next: Behaviour = 'ready';
    const world = new FakeProcesses(() => next);
    const supervisor = await Supervisor.start(options(world, [], { workers: 2, backoff: { firstMs: 5, maxMs: 5, stableMs: 60_000 } }));
    try {
      next = 'exit';
      expect(await supervisor.scale(3)).toBe(2);
      expect(supervisor.workers).toBe(2);
      next = 'ready';
      const receipt = await supervisor.reload();
      expect(receipt.pids).toHaveLength(2);
      expect(world.of(2)).toHaveLength(2);
      // Slot 1 crashes twice (each restart dies once, then one stays up): 2 restarts counted.
      next = 'exit';
      world.kill(world.of(2)[1]!.pid, 'SIGKILL');
      for (let i = 0; i < 100 && supervisor.status().workers[1]!.restarts < 2; i++) await new Promise((r) => setTimeout(r, 5));
      next = 'ready';
      for (let i = 0; i < 100 && !world.children.some((c) => c.index === 1 && c.alive); i++) await new Promise((r) => setTimeout(r, 5));
      expect(supervisor.status().workers[1]!.restarts).toBeGreaterThanOrEqual(2);
      expect(await supervisor.scale(1)).toBe(1);
      expect(await supervisor.scale(2)).toBe(2);
      expect(supervisor.status().workers.map((w) => w.restarts)).toEqual([0, 0]);
    } finally {
      await supervisor.stop();
    }
    expect(world.children.every((c) => !c.alive)).toBe(true);
  });
});

describe.skipIf(!isLinux)('which sockets each worker gets, per listener mode (fake workers, real sockets, ss as the witness)', () => {
  const reloadTwice = async (reusePort: SupervisorOptions['reusePort']) => {
    const world = new FakeProcesses(() => 'ready');
    const supervisor = await Supervisor.start(options(world, [], { workers: 2, reusePort }));
    try {
      const port = supervisor.ports[0]!;
      const seen = [listenInodes(port)];
      for (let i = 0; i < 2; i++) {
        expect((await supervisor.reload()).ok).toBe(true); // resolves once the old generation is gone
        seen.push(listenInodes(port));
      }
      return { given: [1, 2, 3].map((g) => world.of(g).map((c) => c.inodes)), seen };
    } finally {
      await supervisor.stop();
    }
  };
  const flat = (inodes: number[][]) => [...new Set(inodes.flat())].sort(); // sorted as listenInodes sorts

  it('shared: one socket, given to every worker of every generation; ss lists that one listener throughout', async () => {
    const { given, seen } = await reloadTwice(false);
    const [inode] = seen[0]!;
    expect(seen).toEqual([[inode], [inode], [inode]]);
    expect(given).toEqual([1, 2, 3].map(() => [[inode], [inode]]));
  });

  it("reuse-port 'keep': a socket per slot, slot i's passed from generation to generation; ss lists the same two throughout", async () => {
    const { given, seen } = await reloadTwice('keep');
    expect(seen[0]).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    expect(given[1]).toEqual(given[0]);
    expect(given[2]).toEqual(given[0]);
    expect(flat(given[0]!)).toEqual(seen[0]);
  });

  it("reuse-port 'recreate': new sockets each generation, the old ones closed with it; ss lists only the newest two", async () => {
    const { given, seen } = await reloadTwice('recreate');
    for (const [g, inodes] of given.entries()) {
      expect(flat(inodes)).toHaveLength(2);
      expect(flat(inodes)).toEqual(seen[g]);
    }
    expect(new Set([...seen[0]!, ...seen[1]!, ...seen[2]!]).size).toBe(6);
  });
});

/** What a fake replacement supervisor does with the upgrade socket it is given. */
type NewSupervisor = 'exit' | 'fail' | 'silent' | 'ready';

/**
 * The other side of offerUpgrade, in this process: the "new supervisor" has our pid (the
 * offer accepts only its child's pid, read by SO_PEERCRED), takes the sockets with
 * takeUpgrade, and then does what `behaviour` says. Its signals are recorded, never sent.
 */
class FakeUpgrade implements Processes {
  readonly signals: [pid: number, signal: string][] = [];
  readonly taken: Promise<Awaited<ReturnType<typeof takeUpgrade>> | null>;
  path = '';
  #take!: (taken: Awaited<ReturnType<typeof takeUpgrade>> | null) => void;
  #child: (EventEmitter & ChildProcessLike) | undefined;
  readonly #behaviour: NewSupervisor;

  constructor(behaviour: NewSupervisor) {
    this.#behaviour = behaviour;
    this.taken = new Promise((resolve) => (this.#take = resolve));
  }

  spawn(_file: string, _args: readonly string[], options: SpawnOptions): ChildProcessLike {
    const child = Object.assign(new EventEmitter(), { pid: process.pid, unref: () => {} });
    this.#child = child;
    this.path = options.env![UPGRADE_VARIABLE]!;
    setImmediate(async () => {
      if (this.#behaviour === 'exit') {
        this.#take(null);
        child.emit('exit', 1, null);
        return;
      }
      const taken = await takeUpgrade(this.path);
      this.#take(taken);
      if (this.#behaviour === 'fail') await taken.fail('no configuration');
      if (this.#behaviour === 'ready') await taken.ready();
    });
    return child;
  }

  kill(pid: number, signal: NodeJS.Signals): void {
    this.signals.push([pid, signal]);
    setImmediate(() => this.#child!.emit('exit', null, signal));
  }
}

describe.skipIf(!isLinux)('replacing the supervisor (SIGUSR2), the new one faked in this process (SO_PEERCRED is Linux)', () => {
  const offerFrom = async (behaviour: NewSupervisor) => {
    const listener = await createListener({ host: '127.0.0.1', port: 0 });
    const world = new FakeUpgrade(behaviour);
    const upgrade = offerUpgrade({
      names: ['web'],
      listeners: [listener],
      control: null,
      argv: ['node', 'sockctl', 'serve'],
      env: {},
      readyTimeoutMs: 50,
      stepMs: 200,
      processes: world,
    });
    return { listener, world, upgrade };
  };

  for (const [behaviour, message, signalled, code] of [
    ['exit', /the new supervisor \(pid \d+\) exited with code 1 before it was ready/, false, 'ERR_SOCKCTL_REPLACE_FAILED'],
    ['fail', /the new supervisor \(pid \d+\) failed: no configuration/, true, 'ERR_SOCKCTL_REPLACE_FAILED'],
    ['silent', /ETIMEDOUT|timed out/, true, 'ETIMEDOUT'],
  ] as const) {
    it(`a new supervisor that ${behaviour === 'silent' ? 'never says ready' : behaviour === 'exit' ? 'exits first' : 'fails'}: the offer rejects, this one keeps its listener; ${signalled ? 'the new one is sent SIGTERM' : 'nothing is signalled'}`, async () => {
      const { listener, world, upgrade } = await offerFrom(behaviour);
      const inode = binding.describeSocket(listener.fd).inode;
      try {
        await expect(upgrade).rejects.toThrow(message);
        await expect(upgrade).rejects.toMatchObject({ code });
        expect(world.signals).toEqual(signalled ? [[process.pid, 'SIGTERM']] : []);
        // Still ours and still listening, the same socket.
        expect(binding.describeSocket(listener.fd)).toMatchObject({ inode, listening: true });
        // The private directory of the upgrade socket is gone.
        expect(existsSync(dirname(world.path))).toBe(false);
      } finally {
        listener.close();
        const taken = await world.taken;
        for (const l of taken?.listeners ?? []) l.close();
      }
    });
  }

  it('a new supervisor that says ready: the offer resolves with its pid, and it holds the very same socket; nothing is signalled; it is released (may speak to the manager) only when the old one says so', async () => {
    const { listener, world, upgrade } = await offerFrom('ready');
    let release = (): void => {};
    try {
      const offered = await upgrade;
      release = offered.release;
      expect(offered.pid).toBe(process.pid);
      const taken = (await world.taken)!;
      expect(taken.listeners.map((l) => binding.describeSocket(l.fd).inode)).toEqual([binding.describeSocket(listener.fd).inode]);
      expect(world.signals).toEqual([]);
      let released = false;
      const whenReleased = taken.released().then(() => (released = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(released).toBe(false); // the old one has not told its manager MAINPID= yet
      release();
      await whenReleased;
      for (const l of taken.listeners) l.close();
    } finally {
      release(); // again, if an expectation failed first: the channel is closed once
      listener.close();
    }
  });
});

// `sockctl serve` run as a user runs it (node dist/cli/main.js), and what the serve tests
// read of it: its stderr lines, HTTP answers, /proc, `ss`.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import http from 'node:http';
import { CLI } from './dist';
import { ssDetailedRows } from './ss';

/** Every Serve not yet stopped: a test's afterEach stops them. */
export const running = new Set<Serve>();

/** One `sockctl serve` process, its stderr lines collected. */
export class Serve {
  readonly child: ChildProcess;
  /** Settles at the child's exit, whenever it is awaited (a late once(child, 'exit') misses an exit already past). */
  readonly exited: Promise<void>;
  readonly lines: string[] = [];
  #waiters: (() => void)[] = [];

  constructor(args: string[], extraFd = false, env: NodeJS.ProcessEnv = {}, command: string[] = [process.execPath, CLI]) {
    this.child = spawn(command[0]!, [...command.slice(1), 'serve', ...args], {
      // Inherited descriptors without close-on-exec (pipes as fds 3-5): they must not reach the workers.
      stdio: ['ignore', 'inherit', 'pipe', ...(extraFd ? (['pipe', 'pipe', 'pipe'] as const) : [])],
      env: { ...process.env, ...env },
    });
    let buffered = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let end;
      while ((end = buffered.indexOf('\n')) !== -1) {
        this.lines.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve();
      });
    });
    running.add(this);
  }

  /** The first line (from `from` on) matching; bounded. */
  async line(pattern: RegExp, from = 0, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines.slice(from)) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no line matching ${pattern} (exit ${this.child.exitCode}):\n${this.lines.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  async port(): Promise<number> {
    return Number((await this.line(/serving \S+=[^ ]*:(\d+)/))[1]);
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async stop(): Promise<number | null> {
    running.delete(this);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    return this.child.exitCode;
  }
}

export function get(port: number, path = '/', agent: http.Agent | false = false): Promise<{ status: number; body: string; generation: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, generation: Number(res.headers['x-generation']) }));
      })
      .on('error', reject);
  });
}

/** Polls `ready` every 10 ms until it holds or `timeoutMs` passes; says which. */
export async function until(ready: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; !ready(); ) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** Clients sending requests back to back until stopped, each on a new connection; every outcome kept. */
export function load(port: number, clients = 4) {
  const tally = { attempts: 0, ok: 0, failed: [] as string[], generations: new Set<number>() };
  let on = true;
  const loops = Array.from({ length: clients }, async () => {
    for (let n = 0; on && n < 100_000; n++) {
      try {
        tally.attempts++;
        const res = await get(port);
        if (res.status === 200) tally.ok++;
        else tally.failed.push(`HTTP ${res.status}`);
        tally.generations.add(res.generation);
      } catch (error) {
        tally.failed.push((error as NodeJS.ErrnoException).code ?? String(error));
      }
    }
  });
  return {
    tally,
    /** Until `count` more requests than now have been answered or failed (bounded): attempts, not a rate. */
    async more(count: number, timeoutMs = 15_000): Promise<void> {
      const target = tally.ok + tally.failed.length + count;
      expect(await until(() => tally.ok + tally.failed.length >= target, timeoutMs), `${count} more requests within ${timeoutMs} ms`).toBe(true);
    },
    async stop() {
      on = false;
      await Promise.all(loops);
      return tally;
    },
  };
}

/** A process that exists and is not a zombie waiting for init to reap it. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Every pid serve's lines name: "(pid N)" and a generation's "(pid N M ...)", each once. */
export function pidsOf(serve: Serve): number[] {
  const pids = serve.lines.flatMap((line) => [...line.matchAll(/\(pid (\d+(?: \d+)*)\)/g)].flatMap((m) => m[1]!.split(' ').map(Number)));
  return [...new Set(pids)];
}

export const listenInodes = (port: number) =>
  ssDetailedRows(port)
    .filter((r) => r.tcpState === 'LISTEN' && r.localPort === port)
    .map((r) => r.inode)
    .sort();


/**
 * Until `pid` no longer holds the LISTEN socket of `port` (ss -tlnp): the worker has begun
 * its drain (server.close() closed its copy), so what it answers from now on is a drain's
 * answer. The supervisor's "ready" line comes before the old worker's SIGTERM handler runs.
 */
export async function untilListenerLeft(port: number, pid: number, timeoutMs = 15_000): Promise<void> {
  const holds = () => ssDetailedRows(port, { processes: true }).some((r) => r.tcpState === 'LISTEN' && r.localPort === port && r.users.some((u) => u.pid === pid));
  const deadline = Date.now() + timeoutMs;
  while (holds()) {
    expect(Date.now() < deadline, `pid ${pid} still holds the listener of port ${port} after ${timeoutMs} ms`).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Until a request on `port` is answered by `generation`: an older one may still accept
 * for a moment after the supervisor says the new one is ready (its SIGTERM comes after),
 * but never a newer one, and not for long (bounded).
 */
export async function untilServedBy(port: number, generation: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = (await get(port)).generation;
    if (answered === generation) return;
    expect(answered, `answered by generation ${answered}, waiting for ${generation}`).toBeLessThan(generation);
    expect(Date.now() < deadline, `generation ${generation} did not answer within ${timeoutMs} ms (still ${answered})`).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

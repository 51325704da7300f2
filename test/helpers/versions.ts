// Versions of test/fixtures/takeover-server.js as child processes: started, followed
// step by step through their JSON lines, and reaped.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DIST_INDEX, ensureBuilt } from './dist';

ensureBuilt();
export const TAKEOVER_FIXTURE = join(__dirname, '..', 'fixtures', 'takeover-server.js');

export interface Version {
  child: ChildProcess;
  /** The next line with this step (or 'error'), within timeoutMs. */
  step(name: string, timeoutMs?: number): Promise<Record<string, any>>;
  exited: Promise<number | null>;
  /** Lets a version started with HOLD=1 go on to ready(). */
  proceed(): void;
  stop(): Promise<void>;
}

const running = new Set<Version>();

export function startVersion(env: Record<string, string>, options: SpawnOptions = {}, fixture = TAKEOVER_FIXTURE): Version {
  const child = spawn(process.execPath, [fixture], {
    stdio: ['pipe', 'pipe', 'inherit'],
    ...options,
    env: { ...process.env, SOCKCTL_DIST: DIST_INDEX, ...env },
  });
  const lines: Record<string, any>[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, any>);
    wake?.();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (wake?.(), resolve(code))));
  const version: Version = {
    child,
    exited,
    async step(name, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = lines.findIndex((line) => line.step === name || line.step === 'error');
        if (index !== -1) return lines.splice(index, 1)[0]!;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`version exited (${child.exitCode ?? child.signalCode}) before '${name}'`);
        if (Date.now() > deadline) throw new Error(`no '${name}' within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
    proceed() {
      child.stdin!.write('go\n');
    },
    async stop() {
      running.delete(version);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = once(child, 'exit');
      child.kill('SIGKILL');
      await done;
    },
  };
  running.add(version);
  return version;
}

/** For afterEach: every version still running is killed and reaped. */
export async function stopVersions(): Promise<void> {
  for (const version of [...running]) await version.stop();
}

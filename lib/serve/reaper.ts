// The supervisor's orphans. As a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), or as
// PID 1 of a container, every process a worker leaves behind (a daemon it started, a
// grandchild whose parent exited) becomes our child, and a zombie once it exits. libuv
// reaps only the children it spawned, by pid: waitpid(-1) would steal their exit status
// (their 'exit' event would never come), so the others are found in /proc (PPid ours) and
// reaped by pid. At stop they are asked to end too, then killed.
import { readdirSync, readFileSync } from 'node:fs';
import { binding } from '../core/binding';

interface Child {
  pid: number;
  zombie: boolean;
}

/** Our children, from /proc/PID/stat (state and parent after the command's closing parenthesis). */
function children(): Child[] {
  const found: Child[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid) found.push({ pid: Number(name), zombie: state === 'Z' });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export class Reaper {
  /** Subreaper status: true, or why not. */
  readonly subreaper: true | string;
  readonly #spawned: () => ReadonlySet<number>;
  readonly #onSigchld = (): void => this.#schedule();
  readonly #sweep: NodeJS.Timeout;
  #scheduled = false;
  /** Orphans reaped so far. */
  reaped = 0;

  /** `spawned()` names the pids libuv spawned and has not reported the exit of yet. */
  constructor(spawned: () => ReadonlySet<number>) {
    this.#spawned = spawned;
    let subreaper: true | string = true;
    if (process.pid !== 1) {
      try {
        binding.setChildSubreaper();
      } catch (error) {
        subreaper = (error as Error).message;
      }
    }
    this.subreaper = subreaper;
    process.on('SIGCHLD', this.#onSigchld);
    // A SIGCHLD can coalesce with another, or come before a zombie is visible: sweep too.
    this.#sweep = setInterval(() => this.reap(), 2000).unref();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.reap();
    });
  }

  #orphans(): Child[] {
    const spawned = this.#spawned();
    return children().filter((child) => !spawned.has(child.pid));
  }

  /** Reaps every orphan that has exited; returns how many. */
  reap(): number {
    let count = 0;
    for (const child of this.#orphans()) {
      if (!child.zombie) continue;
      try {
        if (binding.reapChild(child.pid) !== null) count++;
      } catch {
        // ECHILD: reaped by someone else meanwhile
      }
    }
    this.reaped += count;
    return count;
  }

  /** SIGTERM to the orphans still running, SIGKILL to those left after `graceMs`, all reaped. */
  async stopOrphans(graceMs: number): Promise<void> {
    const signalAll = (signal: NodeJS.Signals): number => {
      let alive = 0;
      for (const child of this.#orphans()) {
        if (child.zombie) continue;
        alive++;
        try {
          process.kill(child.pid, signal);
        } catch {
          // exited meanwhile
        }
      }
      return alive;
    };
    if (signalAll('SIGTERM') > 0) {
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && this.#orphans().some((child) => !child.zombie)) {
        this.reap();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      signalAll('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.reap();
  }

  close(): void {
    process.off('SIGCHLD', this.#onSigchld);
    clearInterval(this.#sweep);
  }
}

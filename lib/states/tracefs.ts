// A tracefs instance of this process's own for the sock:inet_sock_set_state tracepoint
// (Documentation/trace/ftrace.rst, events.rst): instances/sockctl-PID-N with that one event
// enabled, the filter's ports and family evaluated in the kernel, the monotonic clock
// (trace_clock mono, so timestamps compare with process.hrtime), and buffer_percent 0 (a
// poll wakes on the first event). Removed when its watch ends and, for whatever is still
// open, at process exit; an instance left by a process that died is removed by the next
// one. The pipe must be closed before rmdir, which otherwise fails with EBUSY.
import { mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatesQuery } from './filter';
import { threadId } from 'node:worker_threads';

export const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const PREFIX = 'sockctl-';
const EVENT = 'events/sock/inet_sock_set_state';

/** Why the tracepoint cannot serve this process, as a watch reports it. */
export class TracepointUnavailable extends Error {
  constructor(
    message: string,
    readonly code: 'ENOTMOUNTED' | 'EACCES' | 'ENOEVENT' | 'ENOTSUP',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TracepointUnavailable';
  }
}

let counter = 0;
// Instance directories to remove at exit, each with what closes its pipe first.
const open = new Map<string, () => void>();
let exitHook = false;

function removeAtExit(): void {
  for (const [dir, closePipe] of open) {
    try {
      closePipe(); // the reader removes the directory once the pipe is closed
      rmdirSync(dir);
    } catch {
      // Its pipe still open (a watch never closed): EBUSY. The next process removes it.
    }
  }
  open.clear();
}

function findRoot(roots: readonly string[]): string {
  for (const root of roots) {
    try {
      if (statSync(join(root, 'instances')).isDirectory()) return root;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // tracefs is mode 0700: another user cannot even look.
      if (code === 'EACCES' || code === 'EPERM') {
        throw new TracepointUnavailable(`not permitted to use tracefs at ${root} (${code}): the tracepoint needs root or CAP_SYS_ADMIN`, 'EACCES', { cause: error });
      }
    }
  }
  throw new TracepointUnavailable(`tracefs is not mounted (looked in ${roots.join(' and ')}; as root: mount -t tracefs nodev /sys/kernel/tracing)`, 'ENOTMOUNTED');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the instances of sockctl processes that no longer run; returns their names. */
export function removeStaleInstances(root: string): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(join(root, 'instances'));
  } catch {
    return removed;
  }
  for (const name of names) {
    // pid-thread-count, or pid-count as earlier versions named them.
    const match = /^sockctl-(\d+)-\d+(?:-\d+)?$/.exec(name);
    if (!match || Number(match[1]) === process.pid || alive(Number(match[1]))) continue;
    try {
      rmdirSync(join(root, 'instances', name));
      removed.push(name);
    } catch {
      // another process got there first, or it is in use
    }
  }
  return removed;
}

/** The kernel's filter for the query (the event's sport/dport are host-order numbers). */
export function kernelFilter(query: StatesQuery): string {
  const terms = ['protocol == 6'];
  if (query.ipv4 !== query.ipv6) terms.push(query.ipv4 ? 'family == 2' : 'family == 10');
  if (query.anyPort !== 0) terms.push(`(sport == ${query.anyPort} || dport == ${query.anyPort})`);
  if (query.localPort !== 0) terms.push(`sport == ${query.localPort}`);
  if (query.remotePort !== 0) terms.push(`dport == ${query.remotePort}`);
  return terms.join(' && ');
}

export interface TraceInstance {
  readonly dir: string;
  readonly pipe: string;
  /** Removes the instance (its pipe closed first by the caller). Idempotent. */
  remove(): void;
  /** What closes the pipe, should the process exit with the instance still open. */
  onExitClose(closePipe: () => void): void;
}

function write(dir: string, file: string, text: string, optional = false): void {
  try {
    writeFileSync(join(dir, file), text);
  } catch (error) {
    if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
}

/** Makes the instance with the event enabled and filtered, or says why it cannot. */
export function openInstance(query: StatesQuery, roots: readonly string[] = TRACEFS_ROOTS): TraceInstance {
  if (process.platform !== 'linux') throw new TracepointUnavailable(`tracefs is Linux only, not on ${process.platform}`, 'ENOTSUP');
  const root = findRoot(roots);
  removeStaleInstances(root);
  // pid, thread and a count: every worker_thread has its own copy of this module's counter.
  const dir = join(root, 'instances', `${PREFIX}${process.pid}-${threadId}-${counter++}`);
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new TracepointUnavailable(`not permitted to make a tracefs instance in ${join(root, 'instances')} (${code}): the tracepoint needs root or CAP_SYS_ADMIN`, 'EACCES', { cause: error });
    }
    throw error;
  }
  open.set(dir, () => {});
  if (!exitHook) {
    exitHook = true;
    process.on('exit', removeAtExit);
  }
  const remove = () => {
    if (!open.has(dir)) return;
    try {
      rmdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // its reader removed it
    }
    open.delete(dir);
  };
  try {
    try {
      statSync(join(dir, EVENT));
    } catch (error) {
      throw new TracepointUnavailable(`this kernel has no sock:inet_sock_set_state tracepoint (Linux 4.16+): ${join(dir, EVENT)} is missing`, 'ENOEVENT', { cause: error });
    }
    write(dir, 'trace_clock', 'mono');
    write(dir, 'buffer_percent', '0', true);
    write(dir, `${EVENT}/filter`, kernelFilter(query));
    write(dir, `${EVENT}/enable`, '1');
  } catch (error) {
    try {
      remove();
    } catch {
      // left for removeStaleInstances
    }
    if (error instanceof TracepointUnavailable) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new TracepointUnavailable(`not permitted to set up the tracefs instance ${dir} (${code})`, 'EACCES', { cause: error });
    }
    throw error;
  }
  const onExitClose = (closePipe: () => void) => {
    if (open.has(dir)) open.set(dir, closePipe);
  };
  return { dir, pipe: join(dir, 'trace_pipe'), remove, onExitClose };
}

/** This process's instances that are still there (for tests). */
export function openInstances(): string[] {
  return [...open.keys()];
}

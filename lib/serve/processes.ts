// What the supervisor does to processes, in one place: start one (a worker, or the
// supervisor that replaces it), send a signal to one or to its group. The system's are Node's spawn and process.kill; a test puts its own in
// their place (as tableflip's `env` is), so that the paths where a new worker dies, is
// never ready or ignores its stop signal run in milliseconds, every signal recorded.
import { spawn, type SpawnOptions } from 'node:child_process';

/** The part of a ChildProcess the supervisor uses. */
export interface ChildProcessLike {
  /** undefined when spawn failed ('error' follows). */
  readonly pid?: number | undefined;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  /** It no longer keeps this process's event loop alive. */
  unref(): void;
}

export interface Processes {
  spawn(file: string, args: readonly string[], options: SpawnOptions): ChildProcessLike;
  /** kill(2): a negative pid names a process group. Throws ESRCH when nobody is there. */
  kill(pid: number, signal: NodeJS.Signals): void;
}

export const systemProcesses: Processes = {
  spawn: (file, args, options) => spawn(file, [...args], options),
  kill: (pid, signal) => void process.kill(pid, signal),
};

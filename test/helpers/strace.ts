// strace as a witness: whether it can trace a child here (strace installed, ptrace allowed),
// the reason the strace-witnessed tests give when it cannot, and a program run under it
// with the socket calls made on one descriptor read back.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLinux } from './net';

export const canStrace = isLinux && spawnSync('strace', ['-qq', '-e', 'trace=none', 'true']).status === 0;

export const noStraceReason = 'strace could not trace a child (strace missing, or ptrace refused)';

export interface Syscall {
  name: string;
  fd: number;
  /** The arguments after the descriptor, as strace prints them. */
  args: string;
  /** The return value (for socket(), the new descriptor). */
  result: number;
}

/** strace's lines, with calls another thread interrupted ("<unfinished ...>" / "resumed>") joined back. */
function joinedLines(trace: string): string[] {
  const pending = new Map<string, string>();
  const lines: string[] = [];
  for (const line of trace.split('\n')) {
    // "<pid> <call>", the pid padded with spaces to a width strace chooses.
    const [, pid = '', text = ''] = /^(\d+)\s+(.*)$/.exec(line) ?? [];
    if (text.endsWith('<unfinished ...>')) pending.set(pid, text.slice(0, -'<unfinished ...>'.length).trimEnd());
    else if (/^<\.\.\. \w+ resumed>/.test(text)) lines.push(pending.get(pid) + text.replace(/^<\.\.\. \w+ resumed>/, ''));
    else lines.push(text);
  }
  return lines;
}

function parse(trace: string): Syscall[] {
  const calls: Syscall[] = [];
  for (const line of joinedLines(trace)) {
    const match = /^(socket|setsockopt|bind|listen|connect)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (!match) continue;
    const [, name, inner, result] = match;
    if (name === 'socket') {
      calls.push({ name, fd: Number(result), args: inner!, result: Number(result) });
    } else {
      const comma = inner!.indexOf(',');
      calls.push({ name: name!, fd: Number(inner!.slice(0, comma)), args: inner!.slice(comma + 1).trim(), result: Number(result) });
    }
  }
  return calls;
}

/**
 * Runs `node args...` under `strace -f -e trace=socket,setsockopt,bind,listen` (plus
 * connect when asked) and returns its stdout and every traced call.
 */
export function straceNode(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  trace = 'socket,setsockopt,bind,listen',
): { stdout: string; calls: Syscall[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sockctl-strace-'));
  try {
    const file = join(dir, 'trace');
    const stdout = execFileSync('strace', ['-f', '-e', `trace=${trace}`, '-o', file, process.execPath, ...args], {
      encoding: 'utf8',
      env,
      timeout: 20_000,
    });
    return { stdout, calls: parse(readFileSync(file, 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The calls on the socket that socket() last returned as `fd`: that socket's life, in order. */
export function lifeOf(calls: Syscall[], fd: number): Syscall[] {
  const start = calls.findLastIndex((call) => call.name === 'socket' && call.result === fd);
  if (start === -1) throw new Error(`no socket() returned ${fd}`);
  return calls.slice(start).filter((call) => call.fd === fd);
}

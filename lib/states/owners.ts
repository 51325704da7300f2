// Which processes hold a socket, by inode, as `ss -p` and `netstat -p` find them: every
// /proc/[pid]/fd/N that links to `socket:[inode]` (proc(5)), the command from
// /proc/[pid]/comm. Processes that vanish or that we may not read (EACCES) are skipped.
//
// The scan is written once, as a generator that yields the reads it needs; one driver
// answers them synchronously (tcpStatesSync), the other with fs/promises (tcpStates).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { SocketOwner } from './row';

// Bounds: pid_max is at most 2^22; a process rarely holds more than its RLIMIT_NOFILE.
const MAX_PROCESSES = 1 << 22;
const MAX_DESCRIPTORS_PER_PROCESS = 1 << 20;

type Read =
  | { kind: 'list'; path: string }
  | { kind: 'links'; paths: string[] }
  | { kind: 'text'; path: string };

/** What a read gives: names, link targets (null where one failed) or text; null when it failed. */
type Answer = string[] | (string | null)[] | string | null;

function socketInode(link: string | null): number | undefined {
  if (link === null || !link.startsWith('socket:[')) return undefined;
  return Number(link.slice(8, -1));
}

function* scan(inodes: ReadonlySet<number>): Generator<Read, Map<number, SocketOwner[]>, Answer> {
  const owners = new Map<number, SocketOwner[]>();
  if (inodes.size === 0) return owners;
  const pids = ((yield { kind: 'list', path: '/proc' }) as string[] | null) ?? [];
  let processes = 0;
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    if (++processes > MAX_PROCESSES) break;
    const fds = ((yield { kind: 'list', path: `/proc/${pid}/fd` }) as string[] | null)?.slice(0, MAX_DESCRIPTORS_PER_PROCESS);
    if (!fds || fds.length === 0) continue;
    const links = (yield { kind: 'links', paths: fds.map((fd) => `/proc/${pid}/fd/${fd}`) }) as (string | null)[];
    let command: string | undefined;
    for (let i = 0; i < fds.length; i++) {
      const inode = socketInode(links[i] ?? null);
      if (inode === undefined || !inodes.has(inode)) continue;
      command ??= (((yield { kind: 'text', path: `/proc/${pid}/comm` }) as string | null) ?? '').trimEnd();
      const list = owners.get(inode) ?? [];
      list.push({ pid: Number(pid), command, fd: Number(fds[i]) });
      owners.set(inode, list);
    }
  }
  for (const list of owners.values()) list.sort((a, b) => a.pid - b.pid || a.fd - b.fd);
  return owners;
}

function orNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null; // vanished (ENOENT, ESRCH) or not ours to read (EACCES)
  }
}

function answerSync(read: Read): Answer {
  switch (read.kind) {
    case 'list':
      return orNull(() => readdirSync(read.path));
    case 'links':
      return read.paths.map((path) => orNull(() => readlinkSync(path)));
    case 'text':
      return orNull(() => readFileSync(read.path, 'utf8'));
  }
}

async function answer(read: Read): Promise<Answer> {
  const orNullAsync = <T>(promise: Promise<T>): Promise<T | null> => promise.catch(() => null);
  switch (read.kind) {
    case 'list':
      return orNullAsync(readdir(read.path));
    case 'links':
      return Promise.all(read.paths.map((path) => orNullAsync(readlink(path))));
    case 'text':
      return orNullAsync(readFile(read.path, 'utf8'));
  }
}

export function socketOwnersSync(inodes: ReadonlySet<number>): Map<number, SocketOwner[]> {
  const steps = scan(inodes);
  let step = steps.next();
  while (!step.done) step = steps.next(answerSync(step.value));
  return step.value;
}

export async function socketOwners(inodes: ReadonlySet<number>): Promise<Map<number, SocketOwner[]>> {
  const steps = scan(inodes);
  let step = steps.next();
  while (!step.done) step = steps.next(await answer(step.value));
  return step.value;
}

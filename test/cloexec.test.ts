// Every descriptor the addon creates is close-on-exec: a child started later (exec) does not
// inherit it unless handed over explicitly (spawn's stdio).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dup, socket } from '../lib/index';
import { connectedPair, isLinux, type Pair } from './helpers/net';

const O_CLOEXEC = 0o2000000;
const flagsOf = (fd: number) => parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
// The descriptors a child (python3, after exec) finds open, from its own /proc/self/fd.
const childFds = () =>
  JSON.parse(execFileSync('python3', ['-c', 'import os, json; print(json.dumps([int(f) for f in os.listdir("/proc/self/fd")]))'], { encoding: 'utf8' })) as number[];

describe.skipIf(!isLinux)('descriptors the addon creates', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await connectedPair();
  });
  afterAll(() => pair.close());

  it('dup() and socket() are close-on-exec and not inherited by a child', () => {
    using copy = dup(pair.client);
    using fresh = socket('ipv6');
    for (const fd of [copy.fd, fresh.fd]) expect(flagsOf(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    const inherited = childFds();
    expect(inherited).not.toContain(copy.fd);
    expect(inherited).not.toContain(fresh.fd);
  });

  it('a descriptor handed over in stdio does reach the child (as its fd 3)', () => {
    using copy = dup(pair.client);
    const out = execFileSync('python3', ['-c', 'import os; print(os.path.exists("/proc/self/fd/3"))'], {
      stdio: ['ignore', 'pipe', 'inherit', copy.fd],
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('True');
  });
});

// takeover() between two Node processes: the new version receives the very listening
// socket (ss: the same inode), the old one closes its copy only after ready and drains;
// faults leave the old version serving.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { takeover } from '../lib/index';
import { httpGet } from './helpers/listen';
import { isLinux, openDescriptorCount } from './helpers/net';
import { startVersion, stopVersions } from './helpers/versions';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sockctl-takeover-'));
  path = join(dir, 'takeover.sock');
});
afterEach(async () => {
  await stopVersions();
  rmSync(dir, { recursive: true, force: true });
});

/** The inode and holders of the LISTEN socket on a port, as ss -tlnpe shows them. */
export function listeningInodes(port: number): { inode: number; pids: number[] }[] {
  const out = execFileSync('ss', ['-tlnpeH', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((line) => ({
    inode: Number(/ino:(\d+)/.exec(line)![1]),
    pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort(),
  }));
}

describe.skipIf(!isLinux)('takeover(): the listener passes from one process to the next', () => {
  it('v1 makes it, v2 receives the same socket, v1 closes its copy only after ready, drains and exits; the path passes to v2', async () => {
    const v1 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v1' });
    const first = await v1.step('listening');
    expect(first).toMatchObject({ inherited: [], previousPid: null });
    await v1.step('ready');
    const { port } = first;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await httpGet(port)).toBe('v1');
    const [before] = listeningInodes(port);

    const v2 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v2' });
    const second = await v2.step('listening');
    expect(second).toMatchObject({ port, inherited: ['web'], previousPid: v1.child.pid });
    // Both hold the one socket now; v1 has closed nothing yet.
    expect(listeningInodes(port)).toEqual([{ inode: before!.inode, pids: [v1.child.pid!, v2.child.pid!].sort() }]);
    await v2.step('ready');
    expect(await v1.step('replaced')).toMatchObject({ drained: [{ timedOut: false, destroyed: 0 }] });
    expect(await v1.exited).toBe(0);
    expect(listeningInodes(port)).toEqual([{ inode: before!.inode, pids: [v2.child.pid!] }]);
    expect(await httpGet(port)).toBe('v2');

    // And v2 offers it at the same path: v3 takes over from v2.
    const v3 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v3' });
    expect(await v3.step('listening')).toMatchObject({ port, previousPid: v2.child.pid });
    await v3.step('ready');
    expect(await v2.exited).toBe(0);
    expect(await httpGet(port)).toBe('v3');
    expect(listeningInodes(port).map((row) => row.inode)).toEqual([before!.inode]);
  });
});

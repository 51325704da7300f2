// takeover() in a directory that other users share (/tmp: world-writable, sticky). Another
// uid plants a symlink where the old code made its temporary socket (`${path}.${pid}.new`),
// pointing at the victim's files; the victim (a third uid, not root: root could unlink
// anything) must neither follow nor remove it. Root only, for the two uids; the directory
// check (writable by others without the sticky bit) runs for everyone.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { takeover } from '../lib/index';
import { skipUnlessAvailable } from './helpers/ci';
import { isLinux } from './helpers/net';
import { readableCopy } from './helpers/readable-copy';

const isRoot = process.getuid?.() === 0;
const ATTACKER = 65534;
const VICTIM = 65533;

const VICTIM_SCRIPT = `
const { takeover } = require(process.env.SOCKCTL_DIST);
const http = require('node:http');
const lines = require('node:readline').createInterface({ input: process.stdin });
(async () => {
  const t = await takeover({ path: process.env.TAKEOVER_PATH, listeners: { web: { host: '127.0.0.1' } } });
  await t.listen('web', http.createServer((_, res) => res.end('ok')));
  console.log(JSON.stringify({ step: 'listening', pid: process.pid }));
  for await (const line of lines) break; // the link is planted now
  try {
    await t.ready();
    console.log(JSON.stringify({ step: 'ready', state: t.state }));
  } catch (error) {
    console.log(JSON.stringify({ step: 'error', code: error.code, message: error.message }));
  }
  t.close();
  process.exit(0);
})();
`;

describe.skipIf(!isLinux)('takeover(): a path another user could plant links beside', () => {
  it('a directory writable by others without the sticky bit is refused (EPERM, saying why); with the sticky bit it is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-links-'));
    try {
      chmodSync(dir, 0o777);
      const path = join(dir, 'takeover.sock');
      await expect(takeover({ path, listeners: { web: { host: '127.0.0.1' } } })).rejects.toThrow(
        expect.objectContaining({ code: 'EPERM', message: expect.stringContaining('is writable by other users and not sticky: put the takeover path in a private directory') }),
      );
      chmodSync(dir, 0o1777);
      const t = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } });
      t.close();
      // ready() was never called: nothing was made at or beside the path.
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(skipUnlessAvailable(isRoot))("another uid's symlink at the old temporary name: the victim's files survive, ready() succeeds, nothing is left behind", async () => {
    const copy = readableCopy();
    const shared = mkdtempSync(join(tmpdir(), 'sockctl-shared-'));
    const victimFiles = mkdtempSync(join(tmpdir(), 'sockctl-victim-'));
    try {
      chmodSync(shared, 0o1777); // as /tmp
      for (const name of ['a', 'b', 'c']) writeFileSync(join(victimFiles, name), name);
      mkdirSync(join(victimFiles, 'sub'));
      for (const entry of [victimFiles, join(victimFiles, 'a'), join(victimFiles, 'b'), join(victimFiles, 'c'), join(victimFiles, 'sub')]) chownSync(entry, VICTIM, VICTIM);
      const path = join(shared, 'app.sock');
      const victim = spawn(process.execPath, ['-e', VICTIM_SCRIPT], {
        uid: VICTIM,
        gid: VICTIM,
        cwd: copy.root,
        env: { ...process.env, SOCKCTL_DIST: copy.dist, TAKEOVER_PATH: path },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const steps = createInterface({ input: victim.stdout! })[Symbol.asyncIterator]();
      const listening = JSON.parse((await steps.next()).value as string) as { step: string; pid: number };
      expect(listening.step).toBe('listening');
      // The attacker's links: the old temporary name, and a few guesses at a new one.
      for (const name of [`app.sock.${listening.pid}.new`, '.sockctl-takeover-', 'app.sock.new']) {
        symlinkSync(victimFiles, join(shared, name));
        lchownSync(join(shared, name), ATTACKER, ATTACKER);
      }
      victim.stdin!.write('go\n');
      const outcome = JSON.parse((await steps.next()).value as string) as { step: string };
      await once(victim, 'exit');
      expect(outcome).toEqual({ step: 'ready', state: 'offering' });
      expect(readdirSync(victimFiles).sort()).toEqual(['a', 'b', 'c', 'sub']);
      // The attacker's links are untouched, and the victim removed its own socket at close.
      expect(readdirSync(shared).sort()).toEqual(['.sockctl-takeover-', 'app.sock.new', `app.sock.${listening.pid}.new`].sort());
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(shared, { recursive: true, force: true });
      rmSync(victimFiles, { recursive: true, force: true });
      copy.remove();
    }
  });
});

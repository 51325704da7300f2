// A process of another uid at the takeover path (root only: it runs a child as uid
// 65534, with a world-readable copy of the package, since the checkout may be in a 0700
// directory). The path's mode 0600 refuses it at connect (EACCES); with the mode opened
// up, SO_PEERCRED refuses it on both ends (EPERM). The running version serves on.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { takeover } from '../lib/index';
import { closeTracked, httpGet, portOf, track } from './helpers/listen';
import { readableCopy } from './helpers/readable-copy';
import { isLinux } from './helpers/net';
import { startVersion, stopVersions, TAKEOVER_FIXTURE } from './helpers/versions';

afterEach(async () => {
  await stopVersions();
  await closeTracked();
});

const isRoot = process.getuid?.() === 0;

// Root only: running a child as uid 65534 needs the privilege (CI runs as root).
describe.skipIf(!isLinux || !isRoot)('takeover(): a peer of another uid is refused (as root, a child as uid 65534)', () => {
  it('refused by the path mode (EACCES), then, with the mode opened, by SO_PEERCRED on both ends (EPERM); the old version serves on', async () => {
    const copy = readableCopy([TAKEOVER_FIXTURE]);
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-uid-'));
    chmodSync(dir, 0o755);
    const path = join(dir, 'takeover.sock');
    const t = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } });
    try {
      const server = await t.listen('web', track(http.createServer((_, res) => res.end('root version'))));
      await t.ready();
      const asNobody = { uid: 65534, gid: 65534, cwd: copy.root };
      const env = { TAKEOVER_PATH: path, VERSION: 'nobody', SOCKCTL_DIST: copy.dist };

      const byMode = startVersion(env, asNobody, copy.file('takeover-server.js'));
      expect(await byMode.step('listening')).toMatchObject({ step: 'error', code: 'EACCES', message: `connect EACCES ${path}` });

      chmodSync(path, 0o666); // what a careless deploy might do: SO_PEERCRED still says no
      const byCredentials = startVersion(env, asNobody, copy.file('takeover-server.js'));
      expect(await byCredentials.step('listening')).toMatchObject({
        step: 'error',
        code: 'EPERM',
        message: expect.stringMatching(/^takeover EPERM .* \(the running version \(pid \d+\) runs as uid 0, not 65534\)$/),
      });
      for (let i = 0; i < 50 && t.failures.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(t.failures.map((e) => e.message)).toEqual([expect.stringMatching(/\(the connecting process \(pid \d+\) runs as uid 65534, not 0\)$/)]);
      expect(t.state).toBe('offering');
      expect(await httpGet(portOf(server))).toBe('root version');
    } finally {
      t.close();
      rmSync(dir, { recursive: true, force: true });
      copy.remove();
    }
  });
});

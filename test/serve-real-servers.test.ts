// Servers nobody here wrote, under `sockctl serve`: gunicorn (systemd socket activation,
// READY=1 from its arbiter) and lighttpd (server.systemd-socket-activation, stopped
// gracefully by SIGINT, never says READY=1: --ready-after). 10 reloads under wrk with
// `Connection: close`: wrk, the outside witness, counts 0 socket errors and 0 non-2xx.
// (With keep-alive these servers close idle connections when they stop, and lose the
// requests racing those closes: docs/reloads.md says so; Node apps with drain() do not.)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { ensureBuilt, ROOT } from './helpers/dist';
import { isLinux } from './helpers/net';
import { running, Serve } from './helpers/serve';
import { hasWrk, startWrk } from './helpers/wrk';

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
let dir: string;

/** wrk with `Connection: close` on `serve`'s port across 10 reloads: 0 socket errors, 0 non-2xx, by wrk's own count. */
async function tenReloadsUnderWrk(serve: Serve, port: number): Promise<void> {
  const wrk = startWrk(`http://127.0.0.1:${port}/`, { close: true });
  for (let generation = 2; generation <= 11; generation++) {
    const from = serve.lines.length;
    serve.signal('SIGHUP');
    await serve.line(new RegExp(`generation ${generation}: 1 worker\\(s\\) ready|reload failed`), from, 30_000);
    expect(serve.lines.slice(from).join('\n')).not.toContain('reload failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const summary = await wrk.stop();
  expect({ socketErrors: summary.socketErrors, nonSuccess: summary.nonSuccess }).toEqual({ socketErrors: 0, nonSuccess: 0 });
  expect(summary.requests).toBeGreaterThan(100);
}

// CI installs gunicorn, lighttpd and wrk (.ci/run): there a missing one is a failure.
const missing = ['gunicorn', 'lighttpd'].filter((c) => !has(c)).concat(hasWrk ? [] : ['wrk']);
describe.skipIf(!isLinux || skipUnlessAvailable(missing.length === 0))(`real servers under sockctl serve (skipped without: ${missing.join(', ') || 'nothing'})`, { timeout: 120_000 }, () => {
  requireUnderCi(missing.length === 0, () => `${missing.join(', ')} (Debian packages)`);
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sockctl-real-'));
  });
  afterEach(async () => {
    await Promise.all([...running].map((s) => s.stop()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gunicorn 20 (2 workers): 10 reloads under wrk with Connection: close, 0 socket errors, 0 non-2xx', async () => {
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--', 'gunicorn', '--workers', '2', '--chdir', join(ROOT, 'test', 'fixtures', 'serve'), 'wsgi_app:app']);
    const port = await serve.port();
    await tenReloadsUnderWrk(serve, port);
  });

  it('lighttpd 1.4 (--stop-signal INT, --ready-after): 10 reloads under wrk with Connection: close, 0 socket errors, 0 non-2xx', async () => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'index.html'), 'ok\n');
    const port = Number(spawnSync('python3', ['-c', 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'], { encoding: 'utf8' }).stdout);
    const conf = join(dir, 'lighttpd.conf');
    writeFileSync(
      conf,
      [`server.document-root = "${root}"`, 'server.bind = "127.0.0.1"', `server.port = ${port}`, 'server.systemd-socket-activation = "enable"', 'index-file.names = ("index.html")', ''].join('\n'),
    );
    const serve = new Serve(['--listen', `http=127.0.0.1:${port}`, '--ready-after', '300', '--stop-signal', 'INT', '--', 'lighttpd', '-D', '-f', conf]);
    expect(await serve.port()).toBe(port);
    await tenReloadsUnderWrk(serve, port);
  });
});

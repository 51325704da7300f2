// The examples of the README and docs/ run as shown (through the package's own name, from
// dist/), print what the pages say, and appear in them verbatim; every page is reachable from
// the README, its relative links and images resolve, and every export has an API page.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLinux } from './helpers/net';

const root = join(__dirname, '..');
const run = (file: string) => execFileSync(process.execPath, [join(root, 'examples', file)], { encoding: 'utf8', timeout: 10_000 });
const readme = readFileSync(join(root, 'README.md'), 'utf8');

const EXPECTED: Record<string, string[]> = {
  'options.js': ['TCP_NODELAY true', 'TCP_KEEPIDLE 30', 'SO_RCVBUF 131072', 'TCP_INFO.state ESTABLISHED', 'SO_ACCEPTCONN true'],
  'before-bind.js': ['IPV6_V6ONLY true', 'TCP_MAXSEG 1200'],
  'half-close.js': ['peer read EOF, peer is CLOSE_WAIT', 'received "reply after FIN", we are FIN_WAIT_2'],
  'dup.js': ['socket still open: true', 'peer received after close(dup)', 'peer read EOF'],
  'linger.js': ['peer got ECONNRESET'],
  'listen-options.js': ['listening on IPv4', 'SO_REUSEADDR true', 'SO_RCVBUF 131072'],
  'create-listener.js': ['hello from the child'],
  'time-wait.js': ['TIME_WAIT on the port: 100', 'v2 on the same port: true', 'v3 without SO_REUSEADDR: bind EADDRINUSE 127.0.0.1:PORT'],
  'lab-helpers.js': ['half-closed: FIN_WAIT_2 CLOSE_WAIT', 'held in FIN_WAIT_1'],
  'tcp-states.js': ['TIME_WAIT timewait true', 'LISTEN TIME_WAIT'],
  'worker.js': ['after terminate(): ECONNREFUSED'],
  'connect.js': ['from 127.0.0.2', 'window scale 0', 'got hello'],
  'socket-activation.js': ['web: stream listener on 127.0.0.1:PORT'],
  'takeover.js': ['v1 answers: v1', 'v1 exited: 0 | same port: true | v2 answers: v2'],
  'fd-passing.js': ['peer pid matches: true', 'served by the receiver on "web"'],
  'watch-states.js': ['TIME_WAIT seen, same socket as before: true'],
  'move-connection.js': ['first answer: hello, one', 'second answer: hello again, two | same connection: true'],
  'serve-library.js': ['answers: 200', 'reload ok: true | generation: 2 | queued connections lost: 0', 'workers: 2'],
  'why-in-use.js': [
    'EADDRINUSE time-wait 3',
    'old socket: { reuseAddr: true, reusePort: false }',
    'fix: listen with reuseAddr: true (the old sockets had SO_REUSEADDR; Node sets it by default)',
    'binds now: false | would bind with: reuseAddr, both',
  ],
};

// Where each example is shown, word for word.
const SHOWN_IN: Record<string, string[]> = {
  'options.js': ['README.md', 'docs/socket-options.md'],
  'before-bind.js': ['docs/socket-options.md'],
  'half-close.js': ['docs/socket-options.md'],
  'dup.js': ['docs/socket-options.md'],
  'linger.js': ['docs/socket-options.md'],
  'listen-options.js': ['docs/listen.md'],
  'create-listener.js': ['docs/listen.md'],
  'time-wait.js': ['docs/listen.md'],
  'lab-helpers.js': ['docs/lab.md'],
  'tcp-states.js': ['README.md', 'docs/tcp-states.md'],
  'worker.js': ['docs/worker-threads.md'],
  'connect.js': ['docs/connect.md'],
  'socket-activation.js': ['docs/handover.md'],
  'takeover.js': ['docs/handover.md'],
  'fd-passing.js': ['docs/handover.md'],
  'watch-states.js': ['docs/tcp-states.md'],
  'move-connection.js': ['docs/keep-connections.md'],
  'serve-library.js': ['docs/reloads.md', 'docs/serve.md'],
  'why-in-use.js': ['docs/why-port-busy.md'],
  'serve-app.js': ['README.md', 'docs/reloads.md'],
  'http-restart.js': ['docs/listen.md'],
  'systemd/app.socket': ['docs/reloads.md'],
  'systemd/app.service': ['docs/reloads.md', 'docs/serve.md'],
  'systemd/app-systemd252.service': ['docs/reloads.md'],
};
const page = (path: string) => readFileSync(join(root, path), 'utf8');
const guides = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
const apiPages = readdirSync(join(root, 'docs', 'api')).filter((f) => f.endsWith('.md') && f !== 'README.md').map((f) => `docs/api/${f}`);

describe('docs pages', () => {
  for (const [file, pages] of Object.entries(SHOWN_IN)) {
    it(`examples/${file} is shown verbatim in ${pages.join(', ')}`, () => {
      for (const path of pages) expect(page(path), path).toContain(readFileSync(join(root, 'examples', file), 'utf8'));
    });
  }

  it('every example file is in that list (none unshown, none untested)', () => {
    const files = readdirSync(join(root, 'examples'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|socket|service)$/.test(f));
    expect(files.sort()).toEqual(Object.keys(SHOWN_IN).sort());
    for (const file of files.filter((f) => f.endsWith('.js') && f !== 'serve-app.js' && f !== 'http-restart.js')) expect(Object.keys(EXPECTED), file).toContain(file);
  });

  it('every guide page is linked from the README, and the API index from it too', () => {
    for (const guide of guides) expect(readme, guide).toContain(`](${guide})`);
    expect(readme).toContain('](docs/api/README.md)');
  });

  it('every relative link and image of the README and docs/ resolves (anchors aside)', () => {
    for (const path of ['README.md', ...guides, 'docs/api/README.md', ...apiPages]) {
      for (const [, target] of page(path).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!) || target!.startsWith('#')) continue;
        const file = target!.split('#')[0]!;
        expect(existsSync(join(root, dirname(path), file)), `${path} -> ${target}`).toBe(true);
      }
    }
  });

  it('every export of the package has its API page, titled by its name and listed in docs/api/README.md', () => {
    const exported = Object.keys(require(join(root, 'dist', 'index.js')) as object).filter((name) => name !== 'default' && name !== '__esModule');
    const index = page('docs/api/README.md');
    for (const name of exported) {
      const path = `docs/api/${name}.md`;
      expect(existsSync(join(root, path)), path).toBe(true);
      expect(page(path).split('\n')[0], path).toMatch(new RegExp(`^# \`${name}\\b`));
      expect(index, path).toContain(`](${name}.md)`);
    }
    expect(apiPages.map((p) => p.slice('docs/api/'.length, -3)).sort()).toEqual(exported.sort());
  });

  // serve() names the options it knows in its unknown-key error: both tables list exactly those.
  it("docs/serve.md's and docs/api/serve.md's option tables list every option serve() takes", async () => {
    const { serve } = require(join(root, 'dist', 'index.js')) as { serve: (o: unknown) => Promise<unknown> };
    const error = (await serve({ 'no such option': 1 }).catch((e: Error) => e)) as Error;
    const known = /is not an option of serve \(([^)]+)\)/.exec(error.message)?.[1].split(', ');
    expect(known, error.message).toContain('takeOverFrom');
    for (const path of ['docs/serve.md', 'docs/api/serve.md']) {
      const rows = [...page(path).matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
      const options = rows.filter((name) => known!.includes(name));
      expect(new Set(options), path).toEqual(new Set(known));
    }
  });
});

describe.skipIf(!isLinux)('README examples', () => {
  for (const [file, lines] of Object.entries(EXPECTED)) {
    it(`examples/${file} prints what its page says`, () => {
      expect(run(file).trim().split('\n')).toEqual(lines);
    });
  }
});

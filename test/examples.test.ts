// The README's examples run as shown (through the package's own name, from dist/), print
// what the README says, and appear in the README verbatim.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

// The docs pages show examples verbatim too, and the images they name exist.
const DOCS: Record<string, string[]> = { 'why-port-busy.md': ['why-in-use.js'], 'lab-lost-segments.md': [], 'serve.md': ['serve-library.js', 'systemd/app.service'], 'keep-connections.md': ['move-connection.js'] };

describe('docs pages', () => {
  for (const [page, examples] of Object.entries(DOCS)) {
    it(`docs/${page} shows ${examples.join(', ') || 'no example'} verbatim, is linked from the README, and its images exist`, () => {
      const text = readFileSync(join(root, 'docs', page), 'utf8');
      for (const file of examples) expect(text).toContain(readFileSync(join(root, 'examples', file), 'utf8'));
      expect(readme).toContain(`](docs/${page})`);
      for (const [, image] of text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) expect(existsSync(join(root, 'docs', image!)), image).toBe(true);
    });
  }
});

describe.skipIf(!isLinux)('README examples', () => {
  for (const [file, lines] of Object.entries(EXPECTED)) {
    it(`examples/${file} prints what the README says`, () => {
      expect(run(file).trim().split('\n')).toEqual(lines);
    });
    it(`examples/${file} is in the README verbatim`, () => {
      expect(readme).toContain(readFileSync(join(root, 'examples', file), 'utf8'));
    });
  }
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { canStrace, lifeOf, noStraceReason, straceNode, type Syscall } from './helpers/strace';

ensureBuilt(); // the test runs what ships: dist/

const EXAMPLE = join(__dirname, '..', 'examples', 'listen-options.js');

/** The program's one listening socket: the descriptor listen() was called on. */
function listenerLife(calls: Syscall[]): { fd: number; life: Syscall[] } {
  const fds = new Set(calls.filter((call) => call.name === 'listen').map((call) => call.fd));
  expect(fds.size).toBe(1);
  const [fd] = fds as Set<number>;
  return { fd: fd!, life: lifeOf(calls, fd!) };
}

function runExample(options: object): { fd: number; life: Syscall[] } {
  return listenerLife(straceNode([EXAMPLE, JSON.stringify(options)]).calls);
}

const setsockopts = (life: Syscall[]) => life.filter((call) => call.name === 'setsockopt').map((call) => call.args.replace(/, \d+$/, ''));
const bindIndex = (life: Syscall[]) => life.findIndex((call) => call.name === 'bind');

describe.skipIf(!isLinux || skipUnlessAvailable(canStrace))(`strace: every option is set on the listener before its bind (needs strace${canStrace ? '' : `; skipped: ${noStraceReason}`})`, () => {
  requireUnderCi(canStrace, () => noStraceReason);
  it('all requested options, then bind, then listen with the requested backlog (twice: ours, then Node\'s)', () => {
    const { fd, life } = runExample({
      host: '::',
      ipv6Only: true,
      reusePort: true,
      backlog: 123,
      sockopts: { SO_RCVBUF: 65536, TCP_DEFER_ACCEPT: 5, TCP_FASTOPEN: 16, TCP_KEEPIDLE: 42 },
    });
    expect(life[0]).toMatchObject({ name: 'socket', result: fd });
    expect(life[0]!.args).toMatch(/^AF_INET6, SOCK_STREAM\|SOCK_CLOEXEC\|SOCK_NONBLOCK,/);
    const bind = bindIndex(life);
    expect(bind).toBeGreaterThan(0);
    expect(life[bind]!.args).toMatch(/inet_pton\(AF_INET6, "::"/);
    // Exactly these, all before bind, none after.
    expect(setsockopts(life.slice(0, bind))).toEqual([
      'SOL_SOCKET, SO_REUSEADDR, [1]',
      'SOL_SOCKET, SO_REUSEPORT, [1]',
      'SOL_IPV6, IPV6_V6ONLY, [1]',
      'SOL_SOCKET, SO_RCVBUF, [65536]',
      'SOL_TCP, TCP_DEFER_ACCEPT, [5]',
      'SOL_TCP, TCP_FASTOPEN, [16]',
      'SOL_TCP, TCP_KEEPIDLE, [42]',
    ]);
    expect(setsockopts(life.slice(bind))).toEqual([]);
    const listens = life.slice(bind).filter((call) => call.name === 'listen');
    expect(listens.map((call) => [call.args, call.result])).toEqual([['123', 0], ['123', 0]]);
  });

  it('reuseAddr false sets no SO_REUSEADDR at all; an IPv4 listener gets no IPV6_V6ONLY', () => {
    const { life } = runExample({ host: '127.0.0.1', reuseAddr: false, backlog: 7 });
    const bind = bindIndex(life);
    expect(life[bind]!.args).toMatch(/sin_port=htons\(0\), sin_addr=inet_addr\("127\.0\.0\.1"\)/);
    expect(setsockopts(life)).toEqual([]);
    expect(life.filter((call) => call.name === 'listen').map((call) => call.args)).toEqual(['7', '7']);
  });

  it("by contrast, Node core's own listen always sets SO_REUSEADDR (libuv) and listens with 511", () => {
    const script = `const s = require('node:net').createServer().listen(0, '127.0.0.1', () => s.close());`;
    const { life } = listenerLife(straceNode(['-e', script]).calls);
    expect(setsockopts(life.slice(0, bindIndex(life)))).toEqual(['SOL_SOCKET, SO_REUSEADDR, [1]']);
    expect(life.filter((call) => call.name === 'listen').map((call) => call.args)).toEqual(['511']);
  });
});

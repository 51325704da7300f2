// The tracepoint's transitions against the wire: python3 makes three connections on
// loopback (the client closes first, the server closes first, the client resets) while
// `tcpdump -i lo` captures their segments and watchStates (source 'tracepoint') records
// every transition. Each socket's transitions must be, in order, the ones the wire implies
// by these rules, written where the kernel's view and the wire's differ:
// - SYN sent: CLOSED -> SYN_SENT (the kernel's event comes before the SYN leaves).
// - SYN-ACK received: SYN_SENT -> ESTABLISHED.
// - The handshake's final ACK received by the server: LISTEN -> SYN_RECV and then
//   SYN_RECV -> ESTABLISHED, both at that ACK: the kernel's request socket is not a full
//   socket and the tracepoint reports it only once the ACK makes one.
// - FIN sent: ESTABLISHED -> FIN_WAIT_1, or CLOSE_WAIT -> LAST_ACK once the peer's FIN came.
// - The ACK of our FIN received: FIN_WAIT_1 -> FIN_WAIT_2, or LAST_ACK -> CLOSED.
// - FIN received: ESTABLISHED -> CLOSE_WAIT, or FIN_WAIT_2 -> TIME_WAIT (the kernel says
//   FIN_WAIT_2 -> CLOSE, its timewait socket being another object; watchStates confirms
//   TIME_WAIT by a lookup). A FIN that also acknowledges ours gives both FIN_WAIT_1 ->
//   FIN_WAIT_2 and FIN_WAIT_2 -> TIME_WAIT.
// - RST sent or received: the state -> CLOSED; a reset leaves no TIME_WAIT.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { watchStates, type TcpStateChange } from '../lib/index';
import { noTracingReason, tracing } from './helpers/tracefs';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { impliedTransitions } from './helpers/wire-rules.mjs';

const hasTcpdump = spawnSync('tcpdump', ['--version']).status === 0;

const WORKLOAD = `
import socket, struct, sys, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(8)
port = l.getsockname()[1]
print(port, flush=True); sys.stdin.readline()
def pair():
    c = socket.create_connection(('127.0.0.1', port)); a, _ = l.accept(); return c, a
c, a = pair(); print('active', c.getsockname()[1], flush=True); c.close(); a.recv(1); a.close(); time.sleep(0.1)
c, a = pair(); print('passive', c.getsockname()[1], flush=True); a.close(); c.recv(1); c.close(); time.sleep(0.1)
c, a = pair(); print('reset', c.getsockname()[1], flush=True)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close(); time.sleep(0.1); a.close()
print('done', flush=True)
`;

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

const isRoot = process.getuid?.() === 0;
const needs = isRoot && tracing && hasTcpdump;
const why = `root: ${isRoot}; the tracepoint: ${noTracingReason || 'available'}; tcpdump: ${hasTcpdump ? 'found' : 'missing'}`;
describe.skipIf(skipUnlessAvailable(needs))(`the tracepoint against tcpdump (root-only: tcpdump and tracefs need it; ${why})`, () => {
  requireUnderCi(needs, () => why);
  it('active close, passive close and reset: every transition the wire implies, in order, nothing more', async () => {
    const python = spawn('python3', ['-c', WORKLOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(python);
    const lines = createInterface({ input: python.stdout! })[Symbol.asyncIterator]();
    const port = Number((await lines.next()).value);

    const tcpdump = spawn('tcpdump', ['-i', 'lo', '-nn', '-l', '-S', `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(tcpdump);
    const captured: string[] = [];
    createInterface({ input: tcpdump.stdout! }).on('line', (line) => captured.push(line));
    await new Promise<void>((resolve, reject) => {
      let text = '';
      tcpdump.stderr!.on('data', (chunk: Buffer) => {
        text += chunk;
        if (text.includes('listening on')) resolve();
      });
      tcpdump.once('exit', () => reject(new Error(`tcpdump ended: ${text}`)));
    });

    const watch = watchStates({ port }, { source: 'tracepoint' });
    const changes: TcpStateChange[] = [];
    const reading = (async () => {
      for await (const change of watch) changes.push(change);
    })();
    python.stdin!.write('\n');
    const clients: Record<string, number> = {};
    for (;;) {
      const line = await lines.next();
      if (line.done || line.value === 'done') break;
      const [name, clientPort] = line.value.split(' ');
      clients[name!] = Number(clientPort);
    }
    await once(python, 'exit');

    const wire = () =>
      captured
        .map((line) => /IP (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]+)\]/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ from: Number(m[2]), to: Number(m[4]), flags: m[5]! }));
    const kernel = (local: number, remote: number) => changes.filter((c) => c.row.localPort === local && c.row.remotePort === remote).map((c) => `${c.from}>${c.to}`);
    const compared = () =>
      Object.entries(clients).map(([name, clientPort]) => {
        const segments = wire().filter((s) => s.from === clientPort || s.to === clientPort).map((s) => ({ fromClient: s.from === clientPort, flags: s.flags }));
        return { seen: { name, client: kernel(clientPort, port), server: kernel(port, clientPort) }, implied: { name, ...impliedTransitions(segments) } };
      });
    // The last events and segments still on their way: waited for (bounded), not slept on.
    const agree = () => compared().every(({ seen, implied }) => JSON.stringify(seen) === JSON.stringify(implied));
    for (const deadline = Date.now() + 5000; !agree() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    watch.close();
    await reading;
    tcpdump.kill('SIGINT');
    await once(tcpdump, 'exit');

    expect(Object.keys(clients).sort()).toEqual(['active', 'passive', 'reset']);
    for (const { seen, implied } of compared()) expect(seen).toEqual(implied);
    // The rules were exercised: each scenario has its characteristic ending.
    expect(impliedTransitions([])).toEqual({ client: [], server: [] });
    const ending = (name: string, local: number, remote: number) => changes.filter((c) => c.row.localPort === local && c.row.remotePort === remote).at(-1)?.to;
    expect(ending('active', clients.active!, port)).toBe('TIME_WAIT');
    expect(ending('passive', port, clients.passive!)).toBe('TIME_WAIT');
    expect(ending('reset', clients.reset!, port)).toBe('CLOSED');
    expect(watch.dropped).toBe(0);
  });
});

// Time in each state (durationMs), from the tracepoint's timestamps, against an independent
// clock: a python3 client reads CLOCK_MONOTONIC (the tracefs instance's clock too) around its
// connect() and shutdown(), holds the connection a known time, and reconnects from the same
// port (taking over its own TIME_WAIT). States whose entry the kernel does not report (a
// server's SYN_RECV, TIME_WAIT) and states entered before the watch say null, never 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { watchStates, type TcpStateChange } from '../lib/index';
import { isLinux } from './helpers/net';
import { noTracingReason, tracing } from './helpers/tracefs';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';

const HOLD_S = 0.3;
const CLIENT = `
import json, socket, sys, time
port, hold = int(sys.argv[1]), float(sys.argv[2])
def connect(local):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', local))
    t0 = time.monotonic_ns(); s.connect(('127.0.0.1', port)); t1 = time.monotonic_ns()
    return s, t0, t1
s, t0, t1 = connect(0)
local = s.getsockname()[1]
time.sleep(hold)
t2 = time.monotonic_ns(); s.shutdown(socket.SHUT_WR); t3 = time.monotonic_ns()
assert s.recv(1) == b''  # the server's FIN
t4 = time.monotonic_ns()
s.close()  # TIME_WAIT on this side
sys.stdout.write(json.dumps({'local': local, 't': [t0, t1, t2, t3, t4]}) + '\\n'); sys.stdout.flush()
sys.stdin.readline()  # the test has seen TIME_WAIT
again, _, _ = connect(local)  # both SO_REUSEADDR: takes over the TIME_WAIT at once
again.close()
`;

describe.skipIf(!isLinux || skipUnlessAvailable(tracing))(`watchStates durationMs (root and tracefs: ${noTracingReason || 'available'})`, () => {
  requireUnderCi(tracing, () => noTracingReason);

  it("the kernel's time in each state matches a python3 client's own clock; unknown is null", async () => {
    const server = net.createServer((socket) => socket.on('error', () => {}).resume()); // ends when the client's FIN comes
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const watch = watchStates({ port }, { source: 'tracepoint' });
    const python = spawn('python3', ['-c', CLIENT, String(port), String(HOLD_S)], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: python.stdout! })[Symbol.asyncIterator]();
      const report = JSON.parse((await lines.next()).value as string) as { local: number; t: number[] };
      const [t0, t1, t2, t3, t4] = report.t.map((ns) => ns / 1e6) as [number, number, number, number, number]; // ms
      const seen: TcpStateChange[] = [];
      const timer = setTimeout(() => watch.close(), 10_000);
      let tookOver = false;
      for await (const change of watch) {
        seen.push(change);
        const client = change.row.localPort === report.local;
        if (client && change.to === 'TIME_WAIT' && !tookOver) {
          tookOver = true;
          python.stdin!.write('\n');
        }
        if (client && change.from === 'TIME_WAIT' && change.to === 'CLOSED') break;
      }
      clearTimeout(timer);
      const client = (from: string, to: string) => seen.find((c) => c.row.localPort === report.local && c.from === from && c.to === to);
      const server_ = (from: string, to: string) => seen.find((c) => c.row.localPort === port && c.row.remotePort === report.local && c.from === from && c.to === to);
      const summary = seen.map((c) => `${c.row.localPort}>${c.row.remotePort} ${c.from}->${c.to} ${c.durationMs}`).join('\n');

      // The client: ESTABLISHED from connect() (between t0 and t1) to shutdown() (t2..t3).
      const established = client('ESTABLISHED', 'FIN_WAIT_1');
      expect(established, summary).toBeDefined();
      expect(established!.durationMs).toBeGreaterThanOrEqual(t2 - t1 - 0.01);
      expect(established!.durationMs).toBeLessThanOrEqual(t3 - t0 + 0.01);
      expect(established!.durationMs).toBeGreaterThanOrEqual(HOLD_S * 1000);
      // FIN_WAIT_1 until the ACK of the FIN, then FIN_WAIT_2 until the server's FIN (before t4).
      const finWait1 = client('FIN_WAIT_1', 'FIN_WAIT_2');
      const finWait2 = client('FIN_WAIT_2', 'TIME_WAIT');
      expect(finWait1?.durationMs, summary).toBeGreaterThan(0);
      expect(finWait2?.durationMs, summary).toBeGreaterThan(0);
      expect(finWait1!.durationMs! + finWait2!.durationMs!).toBeLessThanOrEqual(t4 - t2 + 0.01);
      // Times differ as the kernel's timestamps do: leaving FIN_WAIT_1 minus entering it.
      expect(finWait2!.time - finWait1!.time).toBeCloseTo(finWait2!.durationMs!, 2);
      // The server's end: SYN_RECV logged only at the final ACK (unknown), ESTABLISHED known.
      expect(server_('LISTEN', 'SYN_RECV')?.durationMs, summary).toBeNull();
      expect(server_('SYN_RECV', 'ESTABLISHED')?.durationMs, summary).toBeNull();
      const closeWait = server_('ESTABLISHED', 'CLOSE_WAIT');
      expect(closeWait?.durationMs, summary).toBeGreaterThanOrEqual(t2 - t1 - 1);
      expect(closeWait!.durationMs).toBeLessThanOrEqual(t3 - t0 + 1);
      // The client's first event: the time in CLOSED before connect() is not the kernel's to say.
      expect(client('CLOSED', 'SYN_SENT')?.durationMs, summary).toBeNull();
      expect(client('SYN_SENT', 'ESTABLISHED')?.durationMs, summary).toBeGreaterThan(0);
      expect(client('SYN_SENT', 'ESTABLISHED')!.durationMs).toBeLessThanOrEqual(t1 - t0 + 0.01);
      // TIME_WAIT's entry is not an event of its own: its end says null, not 0.
      expect(client('TIME_WAIT', 'CLOSED')?.durationMs, summary).toBeNull();
      // Nothing is ever 0 (a duration the kernel did not measure).
      expect(seen.filter((c) => c.durationMs === 0)).toEqual([]);
    } finally {
      watch.close();
      python.kill();
      if (python.exitCode === null && python.signalCode === null) await once(python, 'exit');
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

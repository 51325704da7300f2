// Simultaneous open: two sockets bound to their own ports connect to each other, neither
// listening. Two plain connects on loopback usually refuse each other, so the first SYN is
// made to wait: a's SYN to port B is dropped by a SO_REUSEPORT listener holding B with a full
// accept queue; b, bound to B beside it, connects to a. a, still in SYN_SENT, receives b's
// bare SYN: SYN_RECV (sending SYN,ACK), and b answers with ACK: ESTABLISHED. TCP_DEFER_ACCEPT
// on b, a client, delays that ACK (200 ms, TCP_DELACK_MAX) so that SYN_RECV can be seen.
// A second pair shuts a down while in SYN_RECV: Linux stays in SYN_RECV (the FIN deferred).
// Ports all come from binding 0: the kernel's choice, never fixed.
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { getOption } from '../../core/options';
import type { TcpState } from '../../core/tcp-states';
import { connect, prepareClient, type PreparedClient } from '../../connect/connect';
import { prepareListener } from '../../listen/listener';
import { shutdown } from '../../core/shutdown';
import type { Recorder } from '../recorder';
import type { Scenario } from '../scenario';

const HOST = '127.0.0.1';

/** A listener on its own port B with a full queue: SYNs to B are dropped. */
async function holder(rec: Recorder, side: string, cleanup: Array<() => void>): Promise<number> {
  const listener = (await prepareListener({ host: HOST, port: 0, backlog: 1, reusePort: true })).open().listen();
  cleanup.push(() => listener.close());
  const port = listener.address.port;
  await rec.observe(side, { localPort: port }, 'LISTEN', 'SO_REUSEPORT listener holding port B, backlog 1, never accept()');
  for (let i = 0; i < 2; i++) {
    const queued = await connect({ host: HOST, port });
    cleanup.push(() => queued.destroy());
  }
  return port;
}

/**
 * a (bound to A) in SYN_SENT towards B, then b (bound to B) connecting to A: a goes SYN_RECV.
 * `inSynRecv` acts on a's descriptor the moment its own TCP_INFO says SYN_RECV, before any
 * dump: the whole of the 200 ms before b's ACK is left for it.
 */
async function crossing(
  rec: Recorder,
  names: [string, string],
  portB: number,
  cleanup: Array<() => void>,
  inSynRecv?: (a: { fd: number }) => void,
) {
  const [aSide, bSide] = names;
  const a = await prepareClient({ host: HOST, port: portB, localAddress: HOST });
  cleanup.push(() => a.close());
  const aFd = { fd: a.fd }; // the same number once a net.Socket takes it over
  const aEnd = { localPort: a.localPort, remotePort: portB };
  rec.fromDescriptor(aSide, aFd, 'bound to port A (bind 0), no SYN yet');
  const aConnect = settle(a, cleanup);
  await rec.observe(aSide, aEnd, 'SYN_SENT', "connect(2) to B: the SYN is dropped (B's listener has a full queue)");

  const b = await prepareClient({ host: HOST, port: a.localPort, localAddress: HOST, localPort: portB, reusePort: true, sockopts: { TCP_DEFER_ACCEPT: 1 }, allowHalfOpen: true });
  cleanup.push(() => b.close());
  const bEnd = { localPort: portB, remotePort: a.localPort };
  rec.fromDescriptor(bSide, { fd: b.fd }, 'bound to port B beside the listener (SO_REUSEPORT), no SYN yet');
  const bConnect = settle(b, cleanup);
  const cause = "rcv b's SYN while in SYN_SENT / SYN,ACK: simultaneous open";
  if (inSynRecv === undefined) await rec.observe(aSide, aEnd, 'SYN_RECV', cause);
  else {
    await untilState(aFd, 'SYN_RECV');
    rec.fromDescriptor(aSide, aFd, cause);
    inSynRecv(aFd);
  }
  return { a, aEnd, aConnect, bEnd, bConnect };
}

/** Asks the descriptor itself (TCP_INFO, one getsockopt) every millisecond, for at most 5 s. */
async function untilState(target: { fd: number }, state: TcpState): Promise<void> {
  const deadline = performance.now() + 5000;
  for (let now = getOption(target, 'TCP_INFO').state; now !== state; now = getOption(target, 'TCP_INFO').state) {
    if (performance.now() > deadline) throw new Error(`still ${now} after 5000 ms, not ${state}`);
    await sleep(1);
  }
}

/**
 * connect() of a prepared client; its socket is destroyed at cleanup. (It resolves once
 * poll(2) says writable, which for a simultaneous open is already in SYN_RECV.)
 */
function settle(client: PreparedClient, cleanup: Array<() => void>): Promise<net.Socket> {
  const connecting = client.connect();
  connecting.then((socket) => cleanup.push(() => socket.on('error', () => {}).destroy()), () => {});
  return connecting;
}

export const simultaneousOpen: Scenario = {
  name: 'simultaneous-open',
  title: 'Simultaneous open: SYN_SENT -> SYN_RECV -> ESTABLISHED, neither side listening',
  states: ['LISTEN', 'CLOSED', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED'],
  async run(rec) {
    const cleanup: Array<() => void> = [];
    try {
      const portB = await holder(rec, 'holder', cleanup);
      const one = await crossing(rec, ['a', 'b'], portB, cleanup);
      await rec.observe('b', one.bEnd, 'ESTABLISHED', "rcv a's SYN,ACK: its ACK delayed (TCP_DEFER_ACCEPT on a client)");
      await rec.observe('a', one.aEnd, 'ESTABLISHED', 'rcv ACK');
      await Promise.all([one.aConnect, one.bConnect]);

      // RFC 793's SYN_RECV -> FIN_WAIT_1 (close in SYN_RECV) is not what Linux does with a
      // full socket: it defers the FIN until the handshake completes, so the socket goes
      // SYN_RECV -> ESTABLISHED -> FIN_WAIT_1 (for some 20 µs in ESTABLISHED). Shown here:
      // right after shutdown() the descriptor still says SYN_RECV.
      const portB2 = await holder(rec, 'holder 2', cleanup);
      const two = await crossing(rec, ['a 2', 'b 2'], portB2, cleanup, (a2) => {
        shutdown(a2, 'write');
        rec.fromDescriptor('a 2', a2, 'shutdown(SHUT_WR) in SYN_RECV: Linux defers the FIN until the ACK comes');
      });
      await Promise.all([two.aConnect, two.bConnect]);
    } finally {
      for (const step of cleanup.reverse()) step();
    }
  },
};

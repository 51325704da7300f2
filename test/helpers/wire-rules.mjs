// The transitions of a connection's two sockets that its segments on the wire imply, by
// the rules written at the top of test/watch-tcpdump.test.ts (where the kernel's view and
// the wire's differ). Shared by that test and bench/watch.mjs. JavaScript (not TypeScript)
// so that the bench, which runs with plain node, can import it.

/**
 * @param {{ fromClient: boolean, flags: string }[]} segments in capture order; `flags` as
 *   tcpdump prints them (S, S., ., P., F., R, R.)
 * @returns {{ client: string[], server: string[] }} 'FROM>TO' per socket, in order
 */
export function impliedTransitions(segments) {
  const ends = {
    client: { state: 'CLOSED', out: [], finSent: false },
    server: { state: 'LISTEN', out: [], finSent: false },
  };
  const go = (end, to) => {
    end.out.push(`${end.state}>${to}`);
    end.state = to;
  };
  for (const { fromClient, flags } of segments) {
    const sender = fromClient ? ends.client : ends.server;
    const receiver = fromClient ? ends.server : ends.client;
    if (flags.includes('R')) {
      if (sender.state !== 'CLOSED') go(sender, 'CLOSED');
      if (receiver.state !== 'CLOSED' && receiver.state !== 'TIME_WAIT' && receiver.state !== 'LISTEN') go(receiver, 'CLOSED');
      continue;
    }
    if (flags === 'S') {
      go(sender, 'SYN_SENT');
      continue;
    }
    if (flags === 'S.') {
      go(receiver, 'ESTABLISHED');
      continue;
    }
    if (fromClient && ends.server.state === 'LISTEN' && flags.includes('.')) {
      go(ends.server, 'SYN_RECV');
      go(ends.server, 'ESTABLISHED');
    }
    // An ACK of the receiver's FIN (on loopback every segment after it acknowledges it).
    if (flags.includes('.') && receiver.finSent) {
      if (receiver.state === 'FIN_WAIT_1') go(receiver, 'FIN_WAIT_2');
      else if (receiver.state === 'LAST_ACK') go(receiver, 'CLOSED');
    }
    if (flags.includes('F') && !sender.finSent) {
      sender.finSent = true;
      go(sender, sender.state === 'CLOSE_WAIT' ? 'LAST_ACK' : 'FIN_WAIT_1');
      go(receiver, receiver.state === 'FIN_WAIT_2' ? 'TIME_WAIT' : 'CLOSE_WAIT');
    }
  }
  return { client: ends.client.out, server: ends.server.out };
}

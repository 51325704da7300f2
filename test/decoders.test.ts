// The decoders on recorded kernel output, so they run without a live kernel: a sock_diag
// dump's raw reply messages (netlink as the kernel sent them), /proc/net/tcp and tcp6, and
// trace_pipe lines, each recorded at one moment with `ss -tanoeH` as the witness
// (test/fixtures/record-states.py). The rows are read through the offsets the addon
// exports (diagLayout), the one source of the row layout.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binding } from '../lib/core/binding';
import { toQuery } from '../lib/states/filter';
import { cookieText, decodeRows } from '../lib/states/netlink';
import { parseTable } from '../lib/states/proc';
import type { TcpStateRow } from '../lib/states/row';
import { parseTraceLine } from '../lib/states/trace-line';
import { parseSsDetails, type SsDetailedRow } from './helpers/ss';

const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'states-recorded.json'), 'utf8')) as {
  ports: { ipv4: number; ipv6: number };
  sockDiagMessages: string;
  procNetTcp: string;
  procNetTcp6: string;
  ss: { ipv4: string; ipv6: string };
};
const ss = [...parseSsDetails(fixture.ss.ipv4, 'ipv4'), ...parseSsDetails(fixture.ss.ipv6, 'ipv6')];
const key = (a: string, ap: number, b: string, bp: number) => `${a} ${ap} ${b} ${bp}`;

function expectAsSs(rows: TcpStateRow[], { withCookie, listenBacklog }: { withCookie: boolean; listenBacklog: boolean }): void {
  expect(rows.map((r) => key(r.localAddress, r.localPort, r.remoteAddress, r.remotePort)).sort()).toEqual(
    ss.map((r) => key(r.localAddress, r.localPort, r.peerAddress, r.peerPort)).sort(),
  );
  const byKey = new Map<string, SsDetailedRow>(ss.map((r) => [key(r.localAddress, r.localPort, r.peerAddress, r.peerPort), r]));
  for (const row of rows) {
    const theirs = byKey.get(key(row.localAddress, row.localPort, row.remoteAddress, row.remotePort))!;
    expect({ ...row, timer: row.timer?.kind ?? null }).toEqual({
      state: theirs.tcpState,
      family: theirs.family,
      localAddress: theirs.localAddress,
      localPort: theirs.localPort,
      remoteAddress: theirs.peerAddress,
      remotePort: theirs.peerPort,
      recvQ: theirs.recvQ,
      sendQ: row.state === 'LISTEN' && !listenBacklog ? 0 : theirs.sendQ,
      timer: theirs.timer?.kind ?? null,
      retransmits: theirs.timer?.retransmits ?? 0,
      uid: theirs.uid,
      inode: theirs.inode,
      cookie: withCookie ? theirs.cookie : null,
    });
    if (row.timer !== null) {
      // ss printed "59sec": rounded down to the second.
      expect(row.timer.expiresMs).toBeGreaterThanOrEqual(theirs.timer!.expiresMs);
      expect(row.timer.expiresMs).toBeLessThan(theirs.timer!.expiresMs + theirs.timer!.resolutionMs + 20);
    }
  }
}

describe('decoders on recorded kernel output', () => {
  it('the recording has every state it was made for', () => {
    expect(ss.map((r) => r.tcpState).sort()).toEqual(
      ['CLOSE_WAIT', 'ESTABLISHED', 'ESTABLISHED', 'FIN_WAIT_2', 'LISTEN', 'TIME_WAIT'].flatMap((s) => [s, s]).sort(),
    );
  });

  it('the row layout comes from the addon: fields inside the row, none overlapping', () => {
    const { rowBytes, offsets } = binding.diagLayout;
    expect(binding.diagRowBytes).toBe(rowBytes);
    const sizes: Record<string, number> = { family: 1, state: 1, timer: 1, retransmits: 1, localPort: 2, remotePort: 2, local: 16, remote: 16 };
    const spans = Object.entries(offsets)
      .map(([name, at]) => [at, at + (sizes[name] ?? 4)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < spans.length; i++) {
      expect(spans[i]![1]).toBeLessThanOrEqual(i + 1 < spans.length ? spans[i + 1]![0] : rowBytes);
    }
    expect(binding.diagLayout.timers).toEqual({ none: 0, retransmit: 1, keepalive: 2, timewait: 3, persist: 4 });
  });

  it('sock_diag: the recorded reply messages, through the native row and the exported offsets, give what ss printed', () => {
    const rows = decodeRows(binding.diagRowsFromMessages(Buffer.from(fixture.sockDiagMessages, 'hex')));
    expectAsSs(rows, { withCookie: true, listenBacklog: true });
  });

  it("a cookie's text is ss's sk: (lowercase hexadecimal, high word first) at every digit count", () => {
    // ss prints the 64-bit cookie with %llx; BigInt's toString(16) is the reference here.
    const asSs = (high: number, low: number) => ((BigInt(high) << 32n) | BigInt(low)).toString(16);
    const lows = [0, 1, 0xf, 0x10, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0xfffff, 0x100000, 0xffffff, 0x1000000, 0xfffffff, 0x10000000, 0xffffffff, 0xeb7c, 0x3165ec, 0xa0b0c0d];
    for (const high of [0, 1, 0xabc, 0xffffffff]) for (const low of lows) expect(cookieText(high, low), `${high} ${low}`).toBe(asSs(high, low));
  });

  // EBADMSG (74): libuv (getSystemErrorName) has no name for it; the code is the kernel's own (the fuzz campaign found 'Unknown system error -74').
  it('a truncated message is refused with EBADMSG, not read past its end', () => {
    const bytes = Buffer.from(fixture.sockDiagMessages, 'hex');
    const length = bytes.readUInt32LE(0);
    const short = Buffer.from(bytes.subarray(0, 40));
    short.writeUInt32LE(40, 0);
    expect(length).toBeGreaterThan(40);
    expect(() => binding.diagRowsFromMessages(short)).toThrow(expect.objectContaining({ errno: -74, code: 'EBADMSG', syscall: 'sock_diag', message: 'sock_diag EBADMSG' }));
  });

  it('/proc/net/tcp and tcp6: the recorded tables give what ss printed (no backlog, no cookie there)', () => {
    const rows: TcpStateRow[] = [];
    parseTable(fixture.procNetTcp, false, toQuery({}), rows);
    parseTable(fixture.procNetTcp6, true, toQuery({}), rows);
    expectAsSs(rows, { withCookie: false, listenBacklog: false });
  });

  it('/proc: the filter runs on the recorded lines as the kernel would run it', () => {
    const rows: TcpStateRow[] = [];
    parseTable(fixture.procNetTcp, false, toQuery({ localPort: fixture.ports.ipv4, state: 'ESTABLISHED' }), rows);
    expect(rows.map((r) => [r.state, r.localPort])).toEqual([['ESTABLISHED', fixture.ports.ipv4]]);
  });

  it('trace_pipe lines: events with the kernel clock, IPv4 and IPv6, and lost-event counts', () => {
    const v4 =
      '          python3-5008    [001] b..1.  4130.512345: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=59498 dport=5555 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 oldstate=TCP_ESTABLISHED newstate=TCP_FIN_WAIT1';
    expect(parseTraceLine(v4)).toEqual({
      monoNs: 4130_512_345_000n,
      ipv6: false,
      localAddress: '127.0.0.1',
      localPort: 59498,
      remoteAddress: '127.0.0.1',
      remotePort: 5555,
      from: 'ESTABLISHED',
      to: 'FIN_WAIT_1',
    });
    const v6 =
      '          <idle>-0       [000] ..s2.    12.000001: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP sport=5555 dport=40000 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=::1 daddrv6=::1 oldstate=TCP_NEW_SYN_RECV newstate=TCP_CLOSE';
    expect(parseTraceLine(v6)).toMatchObject({ ipv6: true, localAddress: '::1', remoteAddress: '::1', from: 'SYN_RECV', to: 'CLOSED', monoNs: 12_000_001_000n });
    expect(parseTraceLine('CPU:1 [LOST 42 EVENTS]')).toEqual({ lost: 42 });
    expect(parseTraceLine('  something-else [000] ....  1.000000: sched_switch: x')).toBeNull();
    expect(parseTraceLine(v4.replace('IPPROTO_TCP', 'IPPROTO_MPTCP'))).toBeNull();
  });
});

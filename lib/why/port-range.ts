// For clients: connect(2) without a bound port fails with EADDRNOTAVAIL when no port of
// net.ipv4.ip_local_port_range is free toward that peer. What holds them, and what
// net.ipv4.tcp_tw_reuse would change (ip-sysctl.rst).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { queryRows } from '../states/list';
import { toQuery } from '../states/filter';
import type { PortRangeCause } from './causes';
import type { PortSocket } from './sockets';

function sysctl(name: string): string | null {
  try {
    return readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim();
  } catch {
    return null;
  }
}

const isLoopback = (address: string) => /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);

/** Why a connect to `address`:`port` found no local port; null when the range cannot be read. */
export async function portRangeCause(address: string, port: number): Promise<PortRangeCause | null> {
  const range = sysctl('ip_local_port_range')?.split(/\s+/).map(Number);
  if (range === undefined || range.length !== 2 || !range.every(Number.isInteger) || isIP(address) === 0) return null;
  const [low, high] = range as [number, number];
  const twText = sysctl('tcp_tw_reuse');
  const twReuse = twText === null ? null : Number(twText);
  const rows = (await queryRows(toQuery({ remotePort: port }))).filter(
    (row) => row.localPort >= low && row.localPort <= high && (row.remoteAddress === address || row.remoteAddress === `::ffff:${address}`),
  );
  const sockets: PortSocket[] = rows.map((row) => ({
    state: row.state, family: row.family, localAddress: row.localAddress, localPort: row.localPort,
    remoteAddress: row.remoteAddress, remotePort: row.remotePort, uid: row.uid, inode: row.inode, cookie: row.cookie,
    pid: null, command: null, timeLeftMs: row.state === 'TIME_WAIT' ? (row.timer?.expiresMs ?? null) : null, crossFamily: false, v6only: null,
  }));
  const timeWait = sockets.filter((s) => s.state === 'TIME_WAIT').length;
  const size = high - low + 1;
  const reuses = twReuse === 1 || (twReuse === 2 && isLoopback(address));
  let fix: string;
  if (timeWait === 0) {
    fix = `widen net.ipv4.ip_local_port_range (${low}-${high}: ${size} ports), connect from more local addresses, or reuse connections (keep-alive, a pool)`;
  } else if (!reuses) {
    fix = `${timeWait} of the ports are TIME_WAIT: net.ipv4.tcp_tw_reuse=1 (now ${twReuse ?? '?'}${twReuse === 2 ? ', loopback only' : ''}) lets connect take over a TIME_WAIT older than tcp_tw_reuse_delay (1 s) when TCP timestamps are on; or widen the range`;
  } else {
    fix = `${timeWait} of the ports are TIME_WAIT and tcp_tw_reuse=${twReuse} already lets connect take them over once they are older than tcp_tw_reuse_delay (1 s), timestamps permitting: retry in a second, or widen the range`;
  }
  return {
    kind: 'port-range', range: [low, high], inUse: sockets.length, timeWait, twReuse, sockets,
    summary: `${sockets.length} sockets toward ${address}:${port} hold local ports in ${low}-${high} (${size} ports), ${timeWait} of them TIME_WAIT`,
    fix,
  };
}

// What the kernel counts of connections lost on the listen path: TcpExt ListenDrops in
// /proc/net/netstat (proc(5)), which already includes ListenOverflows. It counts packets
// (a retransmitted SYN dropped twice counts twice, a dropped final ACK too) for the whole
// network namespace, not per socket: a lower bound on nothing, an upper bound on our losses.
import { readFileSync } from 'node:fs';

/** TcpExt ListenDrops now, or null where /proc/net/netstat cannot be read (not Linux). */
export function listenDrops(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/netstat', 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((line) => line.startsWith('TcpExt:'));
  if (lines.length < 2) return null;
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  const at = names.indexOf('ListenDrops');
  return at === -1 ? null : Number(values[at]);
}

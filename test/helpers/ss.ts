// The independent oracle: what `ss` (iproute2, NETLINK_SOCK_DIAG) reports for a port.
import { execFileSync } from 'node:child_process';

export interface SsRow {
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  peer: string;
  localPort: number;
  peerPort: number;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** TCP sockets with `port` as local or peer port, in any state, as `ss -tanH` prints them. */
export function ssRows(port: number): SsRow[] {
  const out = execFileSync('ss', ['-tanH', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [state, recvQ, sendQ, local, peer] = line.trim().split(/\s+/);
      return {
        state: state!,
        recvQ: Number(recvQ),
        sendQ: Number(sendQ),
        local: local!,
        peer: peer!,
        localPort: portOf(local!),
        peerPort: portOf(peer!),
      };
    });
}

/** The state `ss` shows for the one socket with this local and peer port. */
export function ssState(localPort: number, peerPort: number): string | undefined {
  return ssRows(localPort).find((row) => row.localPort === localPort && row.peerPort === peerPort)?.state;
}

/** Polls `ss` until `predicate` holds, bounded by `timeoutMs`; throws with the last rows seen. */
export async function waitForSs(port: number, predicate: (rows: SsRow[]) => boolean, timeoutMs = 5000): Promise<SsRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = ssRows(port);
    if (predicate(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`ss never showed the expected states on port ${port}: ${JSON.stringify(rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

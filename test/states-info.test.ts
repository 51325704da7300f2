// tcpStates({ info, memory }) and `sockctl states -i -m`: TCP_INFO, the congestion control
// and the socket memory of any socket of the namespace (sock_diag's INET_DIAG_INFO,
// INET_DIAG_CONG, INET_DIAG_SKMEMINFO), checked field by field against `ss -tinm` for the same
// idle connection; absent from the plain listing, which asks for none of it.
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpStates, tcpStatesSync, type TcpStateRow } from '../lib/index';
import { CLI, ensureBuilt } from './helpers/dist';
import { connectedPair, isLinux, type Pair } from './helpers/net';

/** What `ss -tinmH` prints for the connection local:peer: the second line's words. */
function ssDetails(port: number, localPort: number, peerPort: number): Record<string, string> {
  const out = execFileSync('ss', ['-tinmH', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  const lines = out.split('\n');
  const at = lines.findIndex((line) => line.includes(`:${localPort} `) && line.trimEnd().endsWith(`:${peerPort}`));
  if (at < 0) throw new Error(`ss did not list ${localPort} -> ${peerPort}:\n${out}`);
  const words: Record<string, string> = {};
  const list = lines[at + 1]!.trim().split(/\s+/);
  list.forEach((word, i) => {
    const colon = word.indexOf(':');
    if (colon > 0) words[word.slice(0, colon)] ??= word.slice(colon + 1);
    else if (/bps$/.test(list[i + 1] ?? '')) words[word] = list[i + 1]!; // pacing_rate 233922295016bps
    else if (!/bps$/.test(word)) words[word] = '';
  });
  return words;
}

describe.skipIf(!isLinux)('tcpStates info and memory, against ss -tinm', () => {
  let pair: Pair;
  beforeAll(async () => {
    ensureBuilt();
    pair = await connectedPair();
  });
  afterAll(() => pair.close());

  it("each end's TCP_INFO, congestion control and skmem are what ss prints", async () => {
    const rows = tcpStatesSync({ port: pair.port, state: 'ESTABLISHED', info: true, memory: true });
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const ss = ssDetails(pair.port, row.localPort, row.remotePort);
      expect(row.congestion, JSON.stringify(ss)).toBeTypeOf('string');
      expect(ss).toHaveProperty(row.congestion!); // ss prints the algorithm's name as a word
      const info = row.info!;
      expect(info.state).toBe('ESTABLISHED');
      expect(`${info.sndWscale},${info.rcvWscale}`).toBe(ss.wscale);
      expect(String(info.sndMss)).toBe(ss.mss);
      expect(String(info.advmss)).toBe(ss.advmss);
      expect(String(info.sndCwnd)).toBe(ss.cwnd);
      expect(String(info.rcvSpace)).toBe(ss.rcv_space);
      // An idle connection keeps its estimate: rtt/rttvar in µs, ss in ms.
      expect(`${info.rtt! / 1000}/${info.rttvar! / 1000}`).toBe(ss.rtt);
      // The kernel's later fields (ss leaves out a counter that is 0): ss prints the pacing
      // rate in bits a second.
      expect(`${info.pacingRate! * 8}bps`).toBe(ss.pacing_rate);
      expect(String(info.segsOut)).toBe(ss.segs_out ?? '0');
      expect(String(info.segsIn)).toBe(ss.segs_in ?? '0');
      expect(String(info.minRtt! / 1000)).toBe(ss.minrtt);
      expect(String(info.sndWnd)).toBe(ss.snd_wnd);
      expect(String(info.delivered)).toBe(ss.delivered ?? '0');
      expect(info.segsIn! + info.segsOut!).toBeGreaterThan(0);
      const m = row.memory!;
      expect(`(r${m.rmemAlloc},rb${m.rcvbuf},t${m.wmemAlloc},tb${m.sndbuf},f${m.fwdAlloc},w${m.wmemQueued},o${m.optmem},bl${m.backlog},d${m.drops})`).toBe(ss.skmem);
    }
    // The thread-pool listing gives the same.
    const async = await tcpStates({ port: pair.port, state: 'ESTABLISHED', info: true, memory: true });
    expect(async.map((r) => [r.congestion, r.memory, r.info?.sndMss])).toEqual(rows.map((r) => [r.congestion, r.memory, r.info?.sndMss]));
  });

  it('the plain listing has none of it; /proc rows say null; bad values are TypeErrors', () => {
    const [plain] = tcpStatesSync({ port: pair.port, state: 'ESTABLISHED' });
    expect(Object.keys(plain!)).not.toContain('info');
    expect(Object.keys(plain!)).not.toContain('memory');
    const proc = tcpStatesSync({ port: pair.port, state: 'ESTABLISHED', info: true, memory: true, source: 'proc' });
    expect(proc.map((r: TcpStateRow) => [r.info, r.congestion, r.memory])).toEqual([
      [null, null, null],
      [null, null, null],
    ]);
    expect(() => tcpStatesSync({ port: pair.port, info: 1 as never })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('sockctl states -i -m prints the same under each row', () => {
    const run = spawnSync(process.execPath, [CLI, 'states', '-i', '-m', '--port', String(pair.port), '--state', 'established'], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status, run.stderr).toBe(0);
    const clientPort = pair.client.localPort!;
    const ss = ssDetails(pair.port, clientPort, pair.port);
    const lines = run.stdout.split('\n');
    const at = lines.findIndex((line) => line.includes(`127.0.0.1:${clientPort}  `));
    expect(lines[at + 1]).toMatch(new RegExp(`^\\t skmem:${ss.skmem!.replace(/[()]/g, '\\$&')} \\w+ wscale:${ss.wscale} rto:${ss.rto} rtt:${ss.rtt} mss:${ss.mss} `));
  });
});

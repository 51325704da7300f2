// The lab loses segments on purpose, in network namespaces it makes (unshare; nftables drop
// rules on the input hook), and every claim below is judged by the wire: tcpdump -S inside
// the namespace, nft's own counters, and the states sock_diag polling saw there
// (watchStates, source 'poll'). As root (CI) it must run; elsewhere it runs in a user
// namespace where the kernel allows one, and is skipped with the reason otherwise.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LossLabReport, LossScenario } from '../lib/lab/loss/run';
import type { Sequence, SequenceStep } from '../lib/lab/loss/sequence';
import { CLI, ROOT, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

// What ships: dist/, whose agent (dist/lab/loss/agent.js) the namespace runs.
ensureBuilt();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { namespaceMethod, runLossScenario } = require(join(ROOT, 'dist', 'lab', 'loss', 'run.js')) as typeof import('../lib/lab/loss/run');
const method = isLinux ? namespaceMethod() : { skip: 'not Linux' };
const skip = 'skip' in method ? method.skip : undefined;
if (skip !== undefined) console.warn(`lab-loss: skipped: ${skip}`);

describe.skipIf(!isLinux)('where the lab can make its namespace', () => {
  it('as root (CI) it must: unshare -n, nft and tcpdump are there', () => {
    if (process.getuid?.() === 0 && process.env.CI) expect(method).toMatchObject({ how: 'unshare -n (root)' });
    else expect(skip === undefined || skip.length > 0).toBe(true);
  });
});

const segments = (seq: Sequence) => seq.steps.filter((s): s is SequenceStep & { kind: 'segment' } => s.kind === 'segment');
const variant = (report: LossLabReport, name: string) => report.runs.find((r) => r.sequence.variant === name)!.sequence;

describe.skipIf(skip !== undefined)('lab --sequence: segments lost on purpose, judged by tcpdump in the namespace', () => {
  const reports = {} as Record<LossScenario, LossLabReport>;
  beforeAll(async () => {
    // Every variant in a namespace of its own, all at once: about 8 s (syn-retransmit's 7 s).
    const names: LossScenario[] = ['lost-final-ack', 'syn-retransmit', 'time-wait-assassination'];
    const done = await Promise.all(names.map((name) => runLossScenario(name)));
    names.forEach((name, i) => (reports[name] = done[i]!));
  }, 40_000);

  it("lost-final-ack: LAST_ACK retransmits its FIN (3 times in the first second) while TIME_WAIT's ACKs are lost; once they pass, LAST_ACK ends", () => {
    const seq = variant(reports['lost-final-ack'], 'time-wait');
    expect(seq.confirmed).toBe(true);
    const wire = segments(seq);
    // The four-way close as the tutorials tabulate it, with the wire's numbers.
    const clientFin = wire.find((s) => s.from === 'client' && s.flags === 'FIN,ACK')!;
    expect(clientFin).toMatchObject({ seq: 1, ack: 1, client: 'FIN_WAIT_1', dropped: false });
    const serverFins = wire.filter((s) => s.from === 'server' && s.flags === 'FIN,ACK');
    expect(serverFins.length).toBeGreaterThanOrEqual(4);
    for (const fin of serverFins) expect(fin).toMatchObject({ seq: 1, ack: 2, client: 'TIME_WAIT', dropped: false });
    const firstFin = serverFins[0]!.t;
    expect(serverFins.filter((f) => f.t - firstFin < 1).length).toBe(4); // the first FIN and 3 retransmissions
    const gaps = serverFins.slice(1).map((f, i) => f.t - serverFins[i]!.t);
    expect(gaps[0]).toBeGreaterThan(0.15); // RTO floor 200 ms, then doubling
    expect(gaps[1]).toBeGreaterThan(gaps[0]! * 0.8);
    // Every ACK TIME_WAIT sent while the rule stood was dropped; nft counted as many.
    const acks = wire.filter((s) => s.from === 'client' && s.flags === 'ACK' && s.t > firstFin - 0.001);
    const lost = acks.filter((s) => s.dropped);
    expect(lost.length).toBeGreaterThanOrEqual(3);
    expect(seq.dropped).toEqual({ marked: lost.length, nft: lost.length });
    for (const ack of lost) expect(ack).toMatchObject({ seq: 2, ack: 2, client: 'TIME_WAIT', server: 'LAST_ACK' });
    // The first ACK after the rule went: the server leaves LAST_ACK, the client is still TIME_WAIT.
    const last = acks.at(-1)!;
    expect(last).toMatchObject({ dropped: false, client: 'TIME_WAIT', server: 'CLOSED' });
    // The kernel agrees: LAST_ACK on the server (then gone, when the poll lasted that long:
    // on a loaded machine it may end first; the wire above shows the end); TIME_WAIT on the client.
    expect(seq.polled.server).toContain('LAST_ACK');
    expect(['LAST_ACK', 'CLOSED']).toContain(seq.polled.server.at(-1));
    expect(seq.polled.client.at(-1)).toBe('TIME_WAIT');
  });

  it('lost-final-ack, SO_LINGER 0: no TIME_WAIT; the retransmitted FIN meets a RST that arrives', () => {
    const seq = variant(reports['lost-final-ack'], 'linger-0');
    expect(seq.confirmed).toBe(true);
    const wire = segments(seq);
    const abort = wire.find((s) => s.from === 'client' && s.flags.startsWith('RST'))!;
    expect(abort).toMatchObject({ dropped: true, client: 'CLOSED', server: 'CLOSE_WAIT' });
    const fins = wire.filter((s) => s.from === 'server' && s.flags === 'FIN,ACK');
    expect(fins.length).toBeGreaterThanOrEqual(2);
    const final = wire.at(-1)!;
    expect(final).toMatchObject({ from: 'client', flags: 'RST', dropped: false, server: 'CLOSED' });
    expect(final.t).toBeGreaterThan(fins[1]!.t - 0.001); // answered a retransmission, not the first FIN
    expect(seq.polled.client).not.toContain('TIME_WAIT');
    expect(seq.polled.server).toContain('LAST_ACK');
    expect(['LAST_ACK', 'CLOSED']).toContain(seq.polled.server.at(-1));
    expect(seq.dropped.marked).toBe(seq.dropped.nft);
  });

  it('syn-retransmit: SYNs at 0,1,2,3,4,5 s (linear timeouts 4) or 0,1,3 s (0); TCP_SYNCNT 2 ends both at about 7 s', () => {
    const expected: Record<string, number[]> = { 'linear-4': [0, 1, 2, 3, 4, 5], 'linear-0': [0, 1, 3] };
    for (const [name, times] of Object.entries(expected)) {
      const seq = variant(reports['syn-retransmit'], name);
      expect(seq.confirmed, name).toBe(true);
      const syns = segments(seq).filter((s) => s.from === 'client' && s.flags === 'SYN');
      expect(syns.map((s) => Math.round(s.t)), name).toEqual(times);
      for (const syn of syns) expect(Math.abs(syn.t - Math.round(syn.t)), name).toBeLessThan(0.3);
      expect(syns.every((s) => s.dropped && s.seq === 0 && s.client === 'SYN_SENT')).toBe(true);
      expect(seq.dropped).toEqual({ marked: times.length, nft: times.length });
      const gaveUp = seq.steps.find((s) => s.kind === 'note' && /^connect ETIMEDOUT/.test(s.note!))!;
      expect(gaveUp.t, name).toBeGreaterThan(6.8);
      expect(gaveUp.t, name).toBeLessThan(7.8);
      expect(gaveUp.client).toBe('CLOSED');
      expect(seq.sysctls['net.ipv4.tcp_syn_linear_timeouts']).toBe(name === 'linear-4' ? '4' : '0');
    }
  });

  it('time-wait-assassination: the RST to the TIME_WAIT\'s ACK ends it with tcp_rfc1337=0, not with 1', () => {
    const killed = variant(reports['time-wait-assassination'], 'rfc1337-0');
    const kept = variant(reports['time-wait-assassination'], 'rfc1337-1');
    for (const seq of [killed, kept]) {
      expect(seq.confirmed, seq.variant).toBe(true);
      const wire = segments(seq);
      const syn = wire.find((s) => s.from === 'server' && s.flags === 'SYN')!;
      expect(syn).toMatchObject({ client: 'TIME_WAIT', server: 'SYN_SENT', seq: 0 });
      const reply = wire[wire.indexOf(syn) + 1]!;
      expect(reply).toMatchObject({ from: 'client', flags: 'ACK', seq: 2, ack: 2 }); // TIME_WAIT answers with its old numbers
      expect(wire[wire.indexOf(syn) + 2]).toMatchObject({ from: 'server', flags: 'RST', seq: 2 });
    }
    const rst = (seq: Sequence) => segments(seq).find((s) => s.from === 'server' && s.flags === 'RST')!;
    expect(rst(killed).client).toBe('CLOSED');
    expect(killed.polled.client.slice(-2)).toEqual(['TIME_WAIT', 'CLOSED']);
    expect(killed.steps.some((s) => s.note === 'connect ECONNREFUSED')).toBe(true);
    expect(rst(kept).client).toBe('TIME_WAIT');
    expect(kept.polled.client.at(-1)).toBe('TIME_WAIT');
    expect(kept.steps.some((s) => s.note === 'connect ETIMEDOUT')).toBe(true);
    expect(kept.sysctls).toEqual({ 'net.ipv4.tcp_rfc1337': '1' });
  });
});

describe.skipIf(skip !== undefined)('sockctl lab --sequence', () => {
  const run = (...args: string[]) => {
    try {
      return { status: 0, stdout: execFileSync(process.execPath, [CLI, 'lab', ...args], { encoding: 'utf8', timeout: 30_000 }), stderr: '' };
    } catch (error) {
      const e = error as { status: number; stdout: string; stderr: string };
      return { status: e.status, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('prints the segments with relative numbers and both states, marks the lost ones, and draws them (SVG, rendered by rsvg-convert)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-seq-'));
    try {
      const svg = join(dir, 'lost-final-ack.svg');
      const r = run('--sequence', 'lost-final-ack', '--svg', svg);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/FIN_WAIT_1 +── FIN,ACK seq=1 ack=1 ─+▶ +CLOSE_WAIT/);
      expect(r.stdout).toMatch(/TIME_WAIT +── ACK seq=2 ack=2 ─+✕ lost +LAST_ACK/);
      expect(r.stdout).toMatch(/TIME_WAIT +── ACK seq=2 ack=2 ─+▶ +CLOSED/);
      expect(r.stdout).toContain('confirmed');
      const drawing = readFileSync(svg, 'utf8');
      expect(drawing).toContain('ACK seq=2 ack=2 (dropped)');
      expect(drawing).toContain('TIME_WAIT');
      const png = execFileSync('rsvg-convert', [svg], { timeout: 10_000 });
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('bad usage exits 2', () => {
    expect(run('--sequence', 'bogus').status).toBe(2);
    expect(run('--sequence', 'lost-final-ack', 'handshake').status).toBe(2);
    expect(run('--sequence').status).toBe(2);
  });
});

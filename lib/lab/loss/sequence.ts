// From the agent's record to a sequence diagram: each segment with its flags as the
// tutorials write them (SYN, FIN,ACK ...), its sequence and acknowledgment numbers relative
// to each side's ISN (tcpdump -S gives the absolute ones), dropped or not, and each side's
// state after it. The states follow RFC 793's machine applied to the segments as the wire
// carried them (a dropped segment changes its sender only); the kernel's own states, polled
// in the namespace, must appear in the same order (`confirmed`).
import type { TcpState } from '../../core/tcp-states';
import type { AgentReport, WireSegment } from './agent';

export type Side = 'client' | 'server';

export interface SequenceStep {
  /** Seconds since the first segment. */
  t: number;
  /** A segment, or a note of what a program did or saw (an ETIMEDOUT, a rule removed). */
  kind: 'segment' | 'note';
  from?: Side;
  /** 'SYN', 'SYN,ACK', 'ACK', 'FIN,ACK', 'RST', 'RST,ACK', with PSH where set. */
  flags?: string;
  /** Relative to the sender's ISN; null for a RST whose absolute sequence number is 0 (the reply of a port without a socket to a SYN). */
  seq?: number | null;
  /** Relative to the receiver's ISN; null without ACK. */
  ack?: number | null;
  length?: number;
  dropped?: boolean;
  note?: string;
  client: TcpState;
  server: TcpState;
}

export interface Sequence {
  scenario: string;
  variant: string;
  steps: SequenceStep[];
  /** The states sock_diag polling saw, per side, in order. */
  polled: Record<Side, TcpState[]>;
  /** Every polled state appears, in order, among the states derived from the wire. */
  confirmed: boolean;
  /** Segments marked dropped, and what the nft counters say. */
  dropped: { marked: number; nft: number };
  sysctls: Record<string, string>;
  rules: { rule: string; from: number; to: number | null }[];
  statesVia: string;
}

const FLAG_NAMES: Record<string, string> = { S: 'SYN', F: 'FIN', R: 'RST', P: 'PSH', '.': 'ACK', U: 'URG', E: 'ECE', W: 'CWR' };

export function tutorialFlags(flags: string): string {
  const names = [...flags].map((c) => FLAG_NAMES[c] ?? c);
  // SYN,ACK and FIN,ACK as the tutorials write them: ACK last.
  return [...names.filter((n) => n !== 'ACK'), ...names.filter((n) => n === 'ACK')].join(',');
}

const other = (side: Side): Side => (side === 'client' ? 'server' : 'client');
const has = (s: WireSegment, flag: string) => s.flags.includes(flag);
/** The smallest distance forward from one of the ISNs (mod 2^32). */
const relative = (value: number, isns: number[]) => (isns.length === 0 ? value : Math.min(...isns.map((isn) => (value - isn) >>> 0)));

function isSubsequence(small: TcpState[], big: TcpState[]): boolean {
  let i = 0;
  for (const state of big) if (i < small.length && small[i] === state) i++;
  return i === small.length;
}

const dedupe = (states: TcpState[]) => states.filter((s, i) => i === 0 || states[i - 1] !== s);

export function buildSequence(report: AgentReport): Sequence {
  const rfc1337 = report.sysctls['net.ipv4.tcp_rfc1337'] === '1';
  const state: Record<Side, TcpState> = { client: 'CLOSED', server: 'LISTEN' };
  const isns: Record<Side, number[]> = { client: [], server: [] };
  const next: Record<Side, number | null> = { client: null, server: null };
  const finEnd: Record<Side, number | null> = { client: null, server: null };
  const derived: Record<Side, TcpState[]> = { client: ['CLOSED'], server: ['LISTEN'] };
  const t0 = report.segments[0]?.t ?? report.events[0]?.t ?? 0;
  const steps: SequenceStep[] = [];

  const items = [
    ...report.segments.map((s) => ({ t: s.t, segment: s as WireSegment | undefined, note: undefined as string | undefined })),
    ...report.events.map((e) => ({ t: e.t, segment: undefined, note: e.what })),
  ].sort((a, b) => a.t - b.t);

  for (const item of items) {
    if (item.segment === undefined) {
      // A connect that failed (ETIMEDOUT gives up without a segment) leaves SYN_SENT.
      if (/^connect E[A-Z]+/.test(item.note!)) for (const side of ['client', 'server'] as Side[]) if (state[side] === 'SYN_SENT') state[side] = 'CLOSED';
      steps.push({ t: item.t - t0, kind: 'note', note: item.note, client: state.client, server: state.server });
      continue;
    }
    const s = item.segment;
    const x = s.from;
    const y = other(x);
    const syn = has(s, 'S');
    const fin = has(s, 'F');
    const rst = has(s, 'R');
    const ackFlag = has(s, '.');
    // tcpdump prints no seq for a pure ACK: it is the sender's next sequence number.
    const pureAck = !syn && !fin && !rst && s.length === 0 && s.seq === 0;
    const seqAbs = pureAck ? next[x] : s.seq;
    if (syn) isns[x] = [...isns[x], s.seq];
    // The sender, as it sends.
    if (syn && !ackFlag) state[x] = 'SYN_SENT';
    if (fin) {
      if (state[x] === 'ESTABLISHED') state[x] = 'FIN_WAIT_1';
      else if (state[x] === 'CLOSE_WAIT') state[x] = 'LAST_ACK';
      finEnd[x] = s.end;
    }
    if (rst && state[x] !== 'SYN_SENT') state[x] = 'CLOSED';
    if (seqAbs !== null && !rst) next[x] = (seqAbs + (s.end - s.seq) + (syn ? 1 : 0) + (fin ? 1 : 0)) >>> 0;
    // The receiver, when the segment arrives.
    if (!s.dropped) {
      const before = state[y];
      if (rst) {
        if (!(before === 'TIME_WAIT' && rfc1337) && before !== 'LISTEN' && !(before === 'CLOSED')) state[y] = 'CLOSED';
      } else {
        if (syn && !ackFlag && before === 'LISTEN') state[y] = 'SYN_RECV';
        if (syn && ackFlag && before === 'SYN_SENT') state[y] = 'ESTABLISHED';
        const acksFin = ackFlag && s.ack !== null && finEnd[y] !== null && s.ack === ((finEnd[y]! + 1) >>> 0);
        if (ackFlag && !syn) {
          if (state[y] === 'SYN_RECV') state[y] = 'ESTABLISHED';
          else if (state[y] === 'FIN_WAIT_1' && acksFin) state[y] = 'FIN_WAIT_2';
          else if (state[y] === 'LAST_ACK' && acksFin) state[y] = 'CLOSED';
          else if (state[y] === 'CLOSING' && acksFin) state[y] = 'TIME_WAIT';
        }
        if (fin) {
          if (state[y] === 'ESTABLISHED') state[y] = 'CLOSE_WAIT';
          else if (state[y] === 'FIN_WAIT_1') state[y] = 'CLOSING';
          else if (state[y] === 'FIN_WAIT_2') state[y] = 'TIME_WAIT';
        }
      }
    }
    for (const side of ['client', 'server'] as Side[]) derived[side].push(state[side]);
    steps.push({
      t: s.t - t0,
      kind: 'segment',
      from: x,
      flags: tutorialFlags(s.flags),
      seq: rst && s.seq === 0 ? null : seqAbs === null ? null : relative(seqAbs, isns[x]),
      ack: ackFlag && s.ack !== null ? relative(s.ack, isns[y]) : null,
      length: s.length,
      dropped: s.dropped,
      client: state.client,
      server: state.server,
    });
  }
  for (const side of ['client', 'server'] as Side[]) derived[side].push(state[side]);

  const polled: Record<Side, TcpState[]> = {
    client: dedupe(report.states.filter((c) => c.side === 'client').map((c) => c.to)),
    server: dedupe(report.states.filter((c) => c.side === 'server').map((c) => c.to)),
  };
  const confirmed = (['client', 'server'] as Side[]).every((side) => isSubsequence(polled[side], dedupe(derived[side])));
  return {
    scenario: report.scenario,
    variant: report.variant,
    steps,
    polled,
    confirmed,
    dropped: { marked: report.segments.filter((s) => s.dropped).length, nft: report.droppedByNft },
    sysctls: report.sysctls,
    rules: report.rules.map((r) => ({ rule: r.rule, from: r.added - t0, to: r.removed === null ? null : r.removed - t0 })),
    statesVia: report.statesVia,
  };
}

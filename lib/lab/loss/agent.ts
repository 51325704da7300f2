// The lab's agent inside a network namespace of its own (started by lib/lab/loss/run.ts
// through unshare: Node cannot unshare itself). Here, and only here, it sets sysctls,
// adds nftables rules that drop segments, runs tcpdump on the namespace's lo, drives the
// two sockets and records their states by sock_diag polling (watchStates, source 'poll':
// a dump sees this namespace's sockets only). It prints one JSON line (AgentReport).
//
//   node dist/lab/loss/agent.js SCENARIO VARIANT
//
// The server is 127.0.0.1:5000, the client 127.0.0.2:40000: a fresh namespace has no
// other socket, so fixed ports keep the wire's numbers easy to read.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../../connect/connect';
import { setOption } from '../../core/options';
import { watchStates } from '../../states/watch';
import { tcpStates } from '../../states/list';
import type { TcpState } from '../../core/tcp-states';

export const SERVER = { address: '127.0.0.1', port: 5000 };
export const CLIENT = { address: '127.0.0.2', port: 40000 };

/** A segment as tcpdump -S (absolute numbers) printed it, in the namespace. */
export interface WireSegment {
  /** Seconds since the epoch (tcpdump -tt). */
  t: number;
  from: 'client' | 'server';
  /** tcpdump's flags: S, F, R, P and . (ACK), e.g. 'S.', 'F.', 'R'. */
  flags: string;
  seq: number;
  /** Sequence number after the segment's data (seq + length), for a data segment. */
  end: number;
  ack: number | null;
  length: number;
  /** The segment matched a drop rule while the rule was in place: tcpdump saw it leave, the receiver never got it. */
  dropped: boolean;
}

export interface AgentReport {
  scenario: string;
  variant: string;
  /** The sysctls set inside the namespace. */
  sysctls: Record<string, string>;
  /** The nftables rules, in nft's syntax, and when each was in place. */
  rules: { rule: string; added: number; removed: number | null }[];
  /** nft's named counter that every drop rule counts into: packets dropped. */
  droppedByNft: number;
  segments: WireSegment[];
  /** State changes by sock_diag polling in the namespace. */
  states: { t: number; side: 'client' | 'server'; from: TcpState | null; to: TcpState }[];
  /** What the programs saw: a connect's error, and notes on each step. */
  events: { t: number; what: string }[];
  statesVia: string;
}

const now = () => Date.now() / 1000;

function nft(script: string): string {
  return execFileSync('nft', ['-f', '-'], { input: script, encoding: 'utf8', timeout: 5000 });
}

function sysctl(name: string, value: string, report: AgentReport): void {
  writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, value);
  report.sysctls[name] = value;
}

type Match = (s: Omit<WireSegment, 'dropped' | 't'>) => boolean;

/**
 * Drop rules on the input hook: tcpdump on lo still sees the segment leave; the receiving
 * socket never does. Every rule counts into one named counter, which outlives the rules,
 * so the number dropped is nft's own. Which segments they were: the first that many of
 * the segments matching a rule between just before it was added and just after it was
 * flushed (a rule drops a prefix of what it matches, in time order).
 */
class Dropper {
  #windows: { match: Match; from: number; to: number | null }[] = [];
  constructor(private readonly report: AgentReport) {
    nft('add table inet lab\nadd counter inet lab dropped\nadd chain inet lab in { type filter hook input priority 0 ; }\n');
  }

  add(rule: string, match: Match): void {
    const from = now();
    nft(`add rule inet lab in ${rule} counter name dropped drop\n`);
    this.report.rules.push({ rule, added: now(), removed: null });
    this.#windows.push({ match, from, to: null });
  }

  flush(): void {
    nft('flush chain inet lab in\n');
    const t = now();
    for (const r of this.report.rules) r.removed ??= t;
    for (const w of this.#windows) w.to ??= t;
    const listing = nft('list counter inet lab dropped\n');
    this.report.droppedByNft = Number(/packets (\d+)/.exec(listing)?.[1] ?? 0);
  }

  /** Marks `segments` (in time order) dropped: the first droppedByNft of those a rule matched while it stood. */
  mark(segments: WireSegment[]): void {
    let left = this.report.droppedByNft;
    for (const s of segments) {
      if (left > 0 && this.#windows.some((w) => s.t >= w.from && (w.to === null || s.t <= w.to) && w.match(s))) {
        s.dropped = true;
        left--;
      }
    }
  }
}

const LINE = /^(\d+\.\d+) IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): Flags \[([^\]]*)\](?:, seq (\d+)(?::(\d+))?)?(?:, ack (\d+))?.*?length (\d+)/;

export function parseTcpdumpLine(line: string): Omit<WireSegment, 'dropped'> | undefined {
  const m = LINE.exec(line);
  if (m === null) return undefined;
  const fromClient = m[2] === CLIENT.address && Number(m[3]) === CLIENT.port;
  const seq = Number(m[7] ?? 0);
  return {
    t: Number(m[1]),
    from: fromClient ? 'client' : 'server',
    flags: m[6]!,
    seq,
    end: m[8] === undefined ? seq : Number(m[8]),
    ack: m[9] === undefined ? null : Number(m[9]),
    length: Number(m[10]),
  };
}

/** tcpdump on the namespace's lo, started and ready ('listening on') before any segment. */
async function startTcpdump(): Promise<{ child: ChildProcess; lines: string[]; stop(): Promise<void> }> {
  const child = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-nn', '-S', '-tt', '-l', '-U', `tcp and (port ${SERVER.port} or port ${CLIENT.port})`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 5000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += String(chunk);
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited: ${stderr}`));
    });
  });
  return {
    child,
    lines,
    async stop() {
      await sleep(50); // the last segments' lines
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await once(child, 'exit');
      }
    },
  };
}

/** Records both sides' state changes (sock_diag polling, 2 ms apart). */
function recordStates(report: AgentReport, signal: AbortSignal): Promise<void> {
  const sideOf = (localAddress: string, localPort: number) =>
    localPort === CLIENT.port && localAddress === CLIENT.address ? 'client' : localPort === SERVER.port && localAddress === SERVER.address ? 'server' : null;
  return (async () => {
    try {
      for await (const change of watchStates({ port: SERVER.port }, { source: 'poll', intervalMs: 2, signal, initial: true })) {
        const side = sideOf(change.row.localAddress, change.row.localPort);
        // The listener is the server side until a connection exists; the lab follows the connection.
        if (side === null || (change.row.state === 'LISTEN' || change.from === 'LISTEN')) continue;
        report.states.push({ t: change.time / 1000, side, from: change.from, to: change.to });
      }
    } catch (error) {
      if ((error as { name?: string }).name !== 'AbortError') throw error;
    }
  })();
}

async function until(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const stateOf = async (side: 'client' | 'server'): Promise<TcpState | undefined> => {
  const me = side === 'client' ? CLIENT : SERVER;
  const rows = await tcpStates({ localPort: me.port, localAddress: me.address });
  return rows.find((r) => r.state !== 'LISTEN')?.state;
};

interface Pair {
  listener: net.Server;
  client: net.Socket;
  server: net.Socket;
}

async function connectedPair(): Promise<Pair> {
  const listener = net.createServer({ allowHalfOpen: true });
  listener.listen(SERVER.port, SERVER.address);
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = await connect({ host: SERVER.address, port: SERVER.port, localAddress: CLIENT.address, localPort: CLIENT.port, allowHalfOpen: true });
  const [server] = await accepted;
  for (const s of [client, server]) s.on('error', () => {}).resume();
  return { listener, client, server };
}

const PURE_ACK_FROM_CLIENT: Match = (s) => s.from === 'client' && s.flags === '.';
const ANY_FROM_CLIENT: Match = (s) => s.from === 'client';

type Scenario = (report: AgentReport, drop: Dropper) => Promise<void>;

const SCENARIOS: Record<string, Record<string, Scenario>> = {
  'lost-final-ack': {
    // The client closes first; once it is in FIN_WAIT_2, its pure ACKs are dropped. The
    // server's FIN gets an ACK from TIME_WAIT that never arrives: LAST_ACK retransmits the
    // FIN until the rule goes, and the TIME_WAIT answers the next one.
    'time-wait': async (report, drop) => {
      const p = await connectedPair();
      p.client.end();
      await until(async () => (await stateOf('client')) === 'FIN_WAIT_2', 2000, 'client FIN_WAIT_2');
      drop.add(`ip saddr ${CLIENT.address} tcp sport ${CLIENT.port} tcp flags == ack`, PURE_ACK_FROM_CLIENT);
      p.server.end();
      report.events.push({ t: now(), what: 'server close: FIN' });
      await sleep(1200);
      report.events.push({ t: now(), what: `rule removed with the server in ${await stateOf('server')}` });
      drop.flush();
      await until(async () => (await stateOf('server')) === undefined, 4000, 'the server to leave LAST_ACK');
      report.events.push({ t: now(), what: `server closed; client in ${await stateOf('client')}` });
      p.client.destroy();
      p.server.destroy();
      p.listener.close();
    },
    // The same, but the active closer leaves without TIME_WAIT (SO_LINGER 0 while in
    // FIN_WAIT_2: its close sends RST, lost too). The server's FIN reaches a port with no
    // socket; while the rule stays, the kernel's RSTs are lost; the retransmitted FIN
    // after it meets a RST that arrives.
    'linger-0': async (report, drop) => {
      const p = await connectedPair();
      p.client.end();
      await until(async () => (await stateOf('client')) === 'FIN_WAIT_2', 2000, 'client FIN_WAIT_2');
      drop.add(`ip saddr ${CLIENT.address} tcp sport ${CLIENT.port}`, ANY_FROM_CLIENT);
      setOption(p.client, 'SO_LINGER', { onoff: true, linger: 0 });
      p.client.destroy();
      report.events.push({ t: now(), what: 'client close with SO_LINGER 0: RST, no TIME_WAIT' });
      await until(async () => (await stateOf('client')) === undefined, 2000, 'the client socket gone');
      p.server.end();
      report.events.push({ t: now(), what: 'server close: FIN' });
      await sleep(300);
      drop.flush();
      report.events.push({ t: now(), what: 'rule removed' });
      await until(async () => (await stateOf('server')) === undefined, 4000, 'the server to leave LAST_ACK');
      report.events.push({ t: now(), what: 'server closed by the RST' });
      p.server.destroy();
      p.listener.close();
    },
  },
  'syn-retransmit': Object.fromEntries(
    ['linear-4', 'linear-0'].map((variant) => [
      variant,
      async (report: AgentReport, drop: Dropper) => {
        sysctl('net.ipv4.tcp_syn_linear_timeouts', variant === 'linear-4' ? '4' : '0', report);
        const listener = net.createServer().listen(SERVER.port, SERVER.address);
        await once(listener, 'listening');
        drop.add(`ip daddr ${SERVER.address} tcp dport ${SERVER.port} tcp flags & syn == syn`, (s) => s.from === 'client' && s.flags.includes('S'));
        const started = now();
        report.events.push({ t: started, what: 'connect with TCP_SYNCNT 2' });
        try {
          await connect({ host: SERVER.address, port: SERVER.port, localAddress: CLIENT.address, localPort: CLIENT.port, sockopts: { TCP_SYNCNT: 2 }, timeoutMs: 12_000 });
          report.events.push({ t: now(), what: 'connected (unexpected)' });
        } catch (error) {
          report.events.push({ t: now(), what: `connect ${(error as { code?: string }).code} after ${(now() - started).toFixed(2)} s` });
        }
        drop.flush();
        listener.close();
      },
    ]),
  ),
  'time-wait-assassination': Object.fromEntries(
    ['rfc1337-0', 'rfc1337-1'].map((variant) => [
      variant,
      async (report: AgentReport) => {
        sysctl('net.ipv4.tcp_rfc1337', variant === 'rfc1337-1' ? '1' : '0', report);
        const p = await connectedPair();
        p.server.on('end', () => p.server.end()); // the client closes first; the server answers with its FIN
        p.client.end();
        await until(async () => (await stateOf('client')) === 'TIME_WAIT' && (await stateOf('server')) === undefined, 2000, 'client TIME_WAIT');
        await sleep(50); // long enough for the state poll to list the TIME_WAIT too
        p.client.destroy();
        p.listener.close();
        await once(p.listener, 'close');
        report.events.push({ t: now(), what: 'listener closed; the server address and port bound again (SO_REUSEADDR) and connected to the TIME_WAIT' });
        try {
          await connect({ host: CLIENT.address, port: CLIENT.port, localAddress: SERVER.address, localPort: SERVER.port, reuseAddr: true, timeoutMs: 1500 });
          report.events.push({ t: now(), what: 'connected (unexpected)' });
        } catch (error) {
          report.events.push({ t: now(), what: `connect ${(error as { code?: string }).code}` });
        }
        report.events.push({ t: now(), what: `client side now ${(await stateOf('client')) ?? 'CLOSED (gone)'}` });
      },
    ]),
  ),
};

export function scenarioVariants(scenario: string): string[] {
  return Object.keys(SCENARIOS[scenario] ?? {});
}

async function main(scenario: string, variant: string): Promise<AgentReport> {
  const run = SCENARIOS[scenario]?.[variant];
  if (run === undefined) throw new Error(`unknown scenario ${scenario} ${variant}`);
  const report: AgentReport = { scenario, variant, sysctls: {}, rules: [], droppedByNft: 0, segments: [], states: [], events: [], statesVia: 'watchStates (source poll: sock_diag dumps every 2 ms inside the namespace)' };
  const drop = new Dropper(report);
  const tcpdump = await startTcpdump();
  const stop = new AbortController();
  const recording = recordStates(report, stop.signal);
  await sleep(10);
  try {
    await run(report, drop);
    await sleep(30);
  } finally {
    if (report.rules.some((r) => r.removed === null)) drop.flush();
    stop.abort();
    await recording;
    await tcpdump.stop();
  }
  for (const line of tcpdump.lines) {
    const segment = parseTcpdumpLine(line);
    if (segment !== undefined) report.segments.push({ ...segment, dropped: false });
  }
  drop.mark(report.segments);
  return report;
}

if (require.main === module) {
  const [scenario = '', variant = ''] = process.argv.slice(2);
  main(scenario, variant).then(
    (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
    (error: unknown) => {
      process.stdout.write(`${JSON.stringify({ failed: error instanceof Error ? error.message : String(error) })}\n`);
      process.exitCode = 1;
    },
  );
}

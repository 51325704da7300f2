// The lab: every scenario confirms its states within bounded time, each state it records
// is what `ss` shows for the same socket at that moment, and together they cover all 11
// states of the TCP diagram.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { halfClosedPair, runLab, type LabEvent, type ScenarioResult } from '../lib/index';
import { SCENARIOS } from '../lib/lab/scenarios/index';
import { lossScenarioNames } from '../lib/lab/loss/run';
import { TRANSITIONS } from '../lib/lab/diagram';
import { isLinux } from './helpers/net';
import { portOf, ssDetailedRows, ssRows } from './helpers/ss';

const root = join(__dirname, '..');
/** What ss shows, right now, for the socket an event names: its state (in the same names), or none. */
function ssStatesFor(event: LabEvent): string[] {
  const local = portOf(event.local!);
  const remote = portOf(event.remote!);
  return ssDetailedRows(local)
    .filter((r) => r.localPort === local && r.peerPort === remote)
    .map((r) => r.tcpState);
}

const results = new Map<string, ScenarioResult>();
const checked: string[] = [];

async function runChecked(name: string): Promise<ScenarioResult> {
  const report = await runLab([name], {
    onEvent(_scenario, event) {
      // Called as soon as the kernel confirmed the state, before the scenario moves on.
      if (event.source === 'sock_diag') {
        expect(ssStatesFor(event), `${name}: ${event.side} ${event.state}`).toEqual([event.state]);
        checked.push(event.state);
      }
    },
  });
  const result = report.scenarios[0]!;
  results.set(name, result);
  expect(result.error).toBeUndefined();
  return result;
}

const statesOf = (result: ScenarioResult, side: string) => result.events.filter((e) => e.side === side).map((e) => e.state);

describe.skipIf(!isLinux)('sockctl lab scenarios', () => {
  it('handshake: the client from connect() goes CLOSED -> SYN_SENT, held, then ESTABLISHED; one gives up in SYN_SENT; SYN_RECV held', async () => {
    const r = await runChecked('handshake');
    expect(statesOf(r, 'idle listener')).toEqual(['LISTEN', 'CLOSED']);
    expect(statesOf(r, 'listener')).toEqual(['CLOSED', 'LISTEN']);
    expect(statesOf(r, 'client')).toEqual(['CLOSED', 'SYN_SENT', 'ESTABLISHED']);
    expect(statesOf(r, 'client 2')).toEqual(['CLOSED', 'SYN_SENT', 'CLOSED']);
    expect(statesOf(r, 'server')).toEqual(['LISTEN', 'SYN_RECV', 'ESTABLISHED']);
    expect(r.transitions).toEqual(
      expect.arrayContaining(['LISTEN>CLOSED', 'CLOSED>LISTEN', 'CLOSED>SYN_SENT', 'SYN_SENT>CLOSED', 'SYN_SENT>ESTABLISHED', 'LISTEN>SYN_RECV', 'SYN_RECV>ESTABLISHED']),
    );
  });

  it('simultaneous-open: neither side listening, a goes SYN_SENT -> SYN_RECV -> ESTABLISHED; shutdown in SYN_RECV defers the FIN', async () => {
    const r = await runChecked('simultaneous-open');
    expect(statesOf(r, 'a')).toEqual(['CLOSED', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED']);
    expect(statesOf(r, 'b')).toEqual(['CLOSED', 'ESTABLISHED']);
    expect(r.transitions).toEqual(expect.arrayContaining(['CLOSED>SYN_SENT', 'SYN_SENT>SYN_RECV', 'SYN_RECV>ESTABLISHED']));
    // No listener was involved: a's peer is b's port, which is the holder's (SO_REUSEPORT).
    const a = r.events.find((e) => e.side === 'a' && e.state === 'SYN_RECV')!;
    const holder = r.events.find((e) => e.side === 'holder')!;
    expect(portOf(a.remote!)).toBe(portOf(holder.local!));
    // RFC 793's SYN_RECV -> FIN_WAIT_1 is not Linux's: right after shutdown() it is still SYN_RECV.
    expect(statesOf(r, 'a 2')).toEqual(['CLOSED', 'SYN_SENT', 'SYN_RECV', 'SYN_RECV']);
  });

  it('active-close: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT with the 2MSL timer counting down', async () => {
    const r = await runChecked('active-close');
    expect(statesOf(r, 'client')).toEqual(['ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT', 'TIME_WAIT']);
    const [first, later] = r.events.filter((e) => e.state === 'TIME_WAIT');
    expect(first!.timer!.kind).toBe('timewait');
    expect(first!.timer!.expiresMs).toBeLessThanOrEqual(60_000);
    expect(first!.timer!.expiresMs).toBeGreaterThan(55_000);
    expect(later!.timer!.expiresMs).toBeLessThan(first!.timer!.expiresMs);
    expect(statesOf(r, 'server')).toEqual(['ESTABLISHED', 'CLOSE_WAIT', 'CLOSED']);
  });

  it('passive-close: CLOSE_WAIT, LAST_ACK held, then CLOSED', async () => {
    const r = await runChecked('passive-close');
    expect(statesOf(r, 'server')).toEqual(['ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSED']);
    expect(statesOf(r, 'client')).toEqual(['ESTABLISHED', 'FIN_WAIT_2', 'TIME_WAIT']);
  });

  it('simultaneous-close: CLOSING, then TIME_WAIT on both sides', async () => {
    const r = await runChecked('simultaneous-close');
    expect(statesOf(r, 'client')).toEqual(['ESTABLISHED', 'FIN_WAIT_1', 'CLOSING', 'TIME_WAIT']);
    expect(statesOf(r, 'server')).toEqual(['ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT']);
  });

  it('half-close: data arrives in FIN_WAIT_2', async () => {
    const r = await runChecked('half-close');
    expect(statesOf(r, 'client')).toEqual(['ESTABLISHED', 'FIN_WAIT_2', 'FIN_WAIT_2', 'FIN_WAIT_2', 'FIN_WAIT_2', 'TIME_WAIT']);
    expect(r.events.filter((e) => /^rcv \d+ bytes/.test(e.cause))).toHaveLength(3);
  });

  it('abortive-close: RST, CLOSED on both sides, no TIME_WAIT', async () => {
    const r = await runChecked('abortive-close');
    expect(statesOf(r, 'client')).toEqual(['ESTABLISHED', 'CLOSED']);
    expect(statesOf(r, 'server')).toEqual(['ESTABLISHED', 'CLOSED']);
    expect(r.events.find((e) => e.side === 'server' && e.state === 'CLOSED')!.cause).toContain('ECONNRESET');
    expect(r.events.some((e) => e.state === 'TIME_WAIT')).toBe(false);
  });

  it('restart: EADDRINUSE without SO_REUSEADDR during TIME_WAIT, LISTEN with it', async () => {
    const r = await runChecked('restart');
    expect(r.events.map((e) => e.state)).toEqual(['LISTEN', 'TIME_WAIT', 'TIME_WAIT', 'LISTEN']);
    expect(r.events[2]!.cause).toMatch(/bind EADDRINUSE 127\.0\.0\.1:\d+/);
  });

  it('shared-descriptor: close(dup) changes nothing, shutdown(dup) half-closes', async () => {
    const r = await runChecked('shared-descriptor');
    expect(statesOf(r, 'client')).toEqual(['ESTABLISHED', 'ESTABLISHED', 'FIN_WAIT_2']);
    expect(statesOf(r, 'server')).toEqual(['CLOSE_WAIT']);
  });

  it('together: all 11 states, each as its scenario declares, and every edge of the diagram but three', async () => {
    // The scenarios the cases above did not run (a -t filter, or one that failed before
    // recording) run here: this check never drops out silently.
    for (const s of SCENARIOS) if (!results.has(s.name)) await runChecked(s.name);
    expect(results.size).toBe(SCENARIOS.length);
    const observed = new Set([...results.values()].flatMap((r) => r.events.map((e) => e.state)));
    expect([...observed].sort()).toEqual(
      ['CLOSED', 'CLOSE_WAIT', 'CLOSING', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'LAST_ACK', 'LISTEN', 'SYN_RECV', 'SYN_SENT', 'TIME_WAIT'],
    );
    for (const s of SCENARIOS) expect(new Set(results.get(s.name)!.events.map((e) => e.state))).toEqual(new Set(s.states));
    // Every state but CLOSED (never listed by the kernel) was also confirmed by ss.
    expect(new Set(checked).size).toBe(10);
    // Every edge of the diagram, but the three docs/lab.md explains: LISTEN -> SYN_SENT (the
    // sockets API cannot: connect on a listener is EISCONN, test/connect.test.ts),
    // SYN_RECV -> FIN_WAIT_1 (Linux defers the FIN, above) and TIME_WAIT -> CLOSED (2MSL:
    // the slow test below).
    const seen = new Set([...results.values()].flatMap((r) => r.transitions));
    const edges = TRANSITIONS.map((t) => `${t.from}>${t.to}`.replace('_END', ''));
    expect(edges.filter((e) => !seen.has(e)).sort()).toEqual(['LISTEN>SYN_SENT', 'SYN_RECV>FIN_WAIT_1', 'TIME_WAIT>CLOSED']);
  }, 60_000);
});

describe.skipIf(!isLinux)('lab helpers for users', () => {
  it('halfClosedPair() hands back FIN_WAIT_2 / CLOSE_WAIT, as ss shows them', async () => {
    const pair = await halfClosedPair();
    try {
      const rows = ssRows(pair.port).filter((r) => r.state !== 'LISTEN');
      expect(rows.find((r) => r.localPort === pair.client.localPort)?.state).toBe('FIN-WAIT-2');
      expect(rows.find((r) => r.localPort === pair.port)?.state).toBe('CLOSE-WAIT');
    } finally {
      await pair.close();
    }
  });
});

describe.skipIf(!isLinux)('sockctl lab, the command', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'lab', ...args], { encoding: 'utf8', timeout: 30_000 });

  it('--list names every scenario; --help exits 0; an unknown one exits 2', () => {
    const list = cli('--list');
    expect(list.status).toBe(0);
    // The loopback scenarios, then the lost-segment ones that --sequence runs in a namespace.
    expect(list.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual([...SCENARIOS.map((s) => s.name), ...lossScenarioNames()]);
    expect(list.stdout).toContain('lost-final-ack           (--sequence)');
    expect(cli('--help').status).toBe(0);
    const bad = cli('no-such-scenario');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown scenario no-such-scenario');
    expect(cli('--no-such-option').status).toBe(2);
  });

  it('a reader that goes away (| head) ends the output quietly: no EPIPE crash, exit 0', async () => {
    const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'lab', 'half-close', 'abortive-close'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    await once(child.stdout!, 'data'); // the first scenario's first lines
    child.stdout!.destroy();
    expect((await exited)[0]).toBe(0);
    expect(stderr).toBe('');
  });

  it('--json gives an event per state with a state field; --svg draws what was seen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-lab-'));
    try {
      const svg = join(dir, 'lab.svg');
      const out = cli('half-close', '--json', '--svg', svg);
      expect(out.status).toBe(0);
      const report = JSON.parse(out.stdout) as { scenarios: Array<{ name: string; events: Array<{ state: string }> }>; states: string[] };
      expect(report.scenarios.map((s) => s.name)).toEqual(['half-close']);
      expect(report.scenarios[0]!.events.map((e) => e.state)).toContain('FIN_WAIT_2');
      const drawn = readFileSync(svg, 'utf8');
      const seen = [...drawn.matchAll(/class="state seen" data-state="(\w+)"/g)].map((m) => m[1]);
      expect(new Set(seen)).toEqual(new Set(report.states));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it.skipIf(spawnSync('rsvg-convert', ['--version']).status !== 0)('--svg writes a valid SVG: rsvg-convert renders it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-lab-'));
    try {
      expect(cli('shared-descriptor', '--svg', join(dir, 'lab.svg')).status).toBe(0);
      execFileSync('rsvg-convert', [join(dir, 'lab.svg'), '-o', join(dir, 'lab.png')]);
      expect(readFileSync(join(dir, 'lab.png')).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe.skipIf(!isLinux || process.env.SOCKCTL_SKIP_SLOW === '1')('2MSL (slow: about 60 s; CI skips it on its repeated suite runs)', () => {
  it('TIME_WAIT ends after 2MSL, 60 s on Linux, and the kernel drops it', async () => {
    const started = Date.now();
    const report = await runLab(['active-close'], { waitTwoMsl: true });
    const r = report.scenarios[0]!;
    expect(r.error).toBeUndefined();
    expect(r.transitions).toContain('TIME_WAIT>CLOSED');
    const first = r.events.find((e) => e.state === 'TIME_WAIT')!;
    const end = r.events.at(-1)!;
    expect(end).toMatchObject({ side: 'client', state: 'CLOSED' });
    expect(end.t - first.t).toBeGreaterThan(55_000);
    expect(Date.now() - started).toBeLessThan(70_000);
  }, 80_000);
});

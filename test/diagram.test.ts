import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderStateDiagram, TRANSITIONS } from '../lib/lab/diagram';
import { TCP_STATE_NAMES } from '../lib/core/tcp-states';

const ALL_STATES = [...new Set(TCP_STATE_NAMES.filter((s) => s !== 'UNKNOWN'))];
const hasRsvg = spawnSync('rsvg-convert', ['--version']).status === 0;

describe('the TCP state diagram', () => {
  const svg = renderStateDiagram({
    states: ['LISTEN', 'ESTABLISHED', 'TIME_WAIT'],
    transitions: ['FIN_WAIT_2>TIME_WAIT', 'TIME_WAIT>CLOSED'],
  });

  it('draws all 11 states and every transition of the diagram', () => {
    expect(ALL_STATES).toHaveLength(11);
    for (const state of ALL_STATES) expect(svg).toContain(`data-state="${state}"`);
    for (const t of TRANSITIONS) expect(svg).toContain(`data-transition="${t.from.replace('_END', '')}>${t.to.replace('_END', '')}"`);
  });

  it('highlights exactly what was observed', () => {
    const seenStates = [...svg.matchAll(/class="state seen" data-state="(\w+)"/g)].map((m) => m[1]);
    expect(new Set(seenStates)).toEqual(new Set(['LISTEN', 'ESTABLISHED', 'TIME_WAIT']));
    const seenTransitions = [...svg.matchAll(/class="transition seen[^"]*" data-transition="([\w>]+)"/g)].map((m) => m[1]);
    expect(seenTransitions.sort()).toEqual(['FIN_WAIT_2>TIME_WAIT', 'TIME_WAIT>CLOSED']);
    expect(svg).toContain('3 of 11 states and 2 of 20 transitions observed');
  });

  it("draws runLab()'s report as it is (its scenarios and missing states are not drawn)", () => {
    const report = { scenarios: [], states: ['ESTABLISHED', 'CLOSE_WAIT'], transitions: ['ESTABLISHED>CLOSE_WAIT'], missing: ['LISTEN'] };
    const svg = renderStateDiagram(report as never);
    expect(svg).toContain('class="state seen" data-state="CLOSE_WAIT"');
    expect(svg).toContain('2 of 11 states and 1 of 20 transitions observed');
  });

  it('counts only the transitions it draws: a jump over a state the polling missed is not counted', () => {
    const jumped = renderStateDiagram({ states: ['ESTABLISHED', 'TIME_WAIT'], transitions: ['FIN_WAIT_2>TIME_WAIT', 'ESTABLISHED>TIME_WAIT', 'FIN_WAIT_1>CLOSED'] });
    const drawn = [...jumped.matchAll(/class="transition seen[^"]*" data-transition="([\w>]+)"/g)].map((m) => m[1]);
    expect(drawn).toEqual(['FIN_WAIT_2>TIME_WAIT']);
    expect(jumped).toContain('2 of 11 states and 1 of 20 transitions observed');
  });

  it.skipIf(!hasRsvg)('is valid SVG that renders to a PNG of its size (rsvg-convert)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-diagram-'));
    try {
      writeFileSync(join(dir, 'd.svg'), svg);
      execFileSync('rsvg-convert', [join(dir, 'd.svg'), '-o', join(dir, 'd.png')]);
      const png = readFileSync(join(dir, 'd.png'));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([920, 920]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('docs/tcp-states.svg, the picture of docs/lab.md, made by sockctl lab', () => {
  const svg = readFileSync(join(__dirname, '..', 'docs', 'tcp-states.svg'), 'utf8');
  it('shows all 11 states observed', () => {
    const seen = [...svg.matchAll(/class="state seen" data-state="(\w+)"/g)].map((m) => m[1]);
    expect(new Set(seen)).toEqual(new Set(ALL_STATES));
  });
  it('counts the transitions it draws: its legend agrees with its orange edges', () => {
    const drawn = [...svg.matchAll(/class="transition seen[^"]*" data-transition="([\w>]+)"/g)].length;
    expect(svg).toContain(`11 of 11 states and ${drawn} of ${TRANSITIONS.length} transitions observed`);
    expect(drawn).toBe(18); // all but LISTEN -> SYN_SENT and SYN_RECV -> FIN_WAIT_1 (docs/lab.md)
  });
  it.skipIf(!hasRsvg)('renders', () => {
    const png = execFileSync('rsvg-convert', [join(__dirname, '..', 'docs', 'tcp-states.svg')]);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});

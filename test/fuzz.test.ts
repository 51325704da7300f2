// The fuzz campaign (issue 9): 10,000 seeded calls of every public export and every raw
// binding function (test/fuzz/campaign.js), in child processes so that a crash shows as a
// signal. Asserts no signal, no hang, only coded errors of the right class, and no
// descriptor leaked. The seed is printed; SOCKCTL_FUZZ_SEED=N reproduces a run.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../lib/index';
import { binding } from '../lib/core/binding';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

ensureBuilt();

const SEED = process.env.SOCKCTL_FUZZ_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.SOCKCTL_FUZZ_SEED);
const CHILDREN = 4;
const CALLS_EACH = 2500;
const CHILD_LIMIT_MS = 100_000; // a child past this is a hang: killed, and the test fails

interface Report {
  seed: number;
  calls: number;
  failures: unknown[];
  counts: Record<string, Record<string, number>>;
  descriptors: { before: number; after: number } | null;
  covered: { api: string[]; raw: string[] };
  crashed?: string;
}

function campaign(seed: number): Promise<{ signal: NodeJS.Signals | null; status: number | null; report?: Report; stderr: string }> {
  // A directory of its own as the working directory: a fuzzed relative path ('x', '80')
  // given to unixListen makes a socket file there, as asked, never in the checkout.
  const cwd = mkdtempSync(join(tmpdir(), 'sockctl-fuzz-cwd-'));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(__dirname, 'fuzz', 'campaign.js')], {
      cwd,
      env: { ...process.env, SOCKCTL_DIST: DIST_INDEX, SOCKCTL_FUZZ_SEED: String(seed), SOCKCTL_FUZZ_CALLS: String(CALLS_EACH) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      rmSync(cwd, { recursive: true, force: true });
      let report: Report | undefined;
      try {
        report = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Report;
      } catch {}
      resolve({ signal, status, report, stderr: stderr.slice(-4000) });
    });
  });
}

describe.skipIf(!isLinux)(`fuzz campaign (seed ${SEED}; SOCKCTL_FUZZ_SEED=${SEED} reproduces it)`, () => {
  it(`${CHILDREN * CALLS_EACH} calls: no signal, no hang, only coded errors, no descriptor leaked`, async () => {
    console.log(`sockctl fuzz: seed ${SEED} (SOCKCTL_FUZZ_SEED=${SEED} npx vitest run test/fuzz.test.ts to reproduce)`);
    const seeds = Array.from({ length: CHILDREN }, (_, i) => (SEED + i) >>> 0);
    const runs = [];
    // Two at a time: the calls mostly wait on the kernel, not on the CPU.
    for (let i = 0; i < seeds.length; i += 2) runs.push(...(await Promise.all(seeds.slice(i, i + 2).map(campaign))));

    for (const [i, run] of runs.entries()) {
      const context = `seed ${seeds[i]}: ${run.stderr}`;
      expect(run.signal, context).toBeNull();
      expect(run.report?.crashed, context).toBeUndefined();
      expect(run.report?.failures, context).toEqual([]);
      expect(run.status, context).toBe(0);
      expect(run.report!.calls).toBe(CALLS_EACH);
      expect(run.report!.descriptors!.after, `descriptors leaked, seed ${seeds[i]}`).toBe(run.report!.descriptors!.before);
    }

    // Every export and every native function is fuzzed: a new one must join the campaign.
    const covered = runs[0]!.report!.covered;
    const functions = Object.entries(api).filter(([, value]) => typeof value === 'function').map(([name]) => name);
    expect(functions.filter((name) => !covered.api.includes(name))).toEqual([]);
    const native = Object.entries(binding).filter(([, value]) => typeof value === 'function').map(([name]) => name);
    expect(native.filter((name) => !covered.raw.includes(name))).toEqual([]);
    // And the campaign reached past the argument checks: some calls of each kind succeeded.
    const counts = runs.flatMap((run) => Object.entries(run.report!.counts));
    const succeeded = new Set(counts.filter(([, outcome]) => (outcome.ok ?? 0) > 0).map(([name]) => name));
    for (const name of ['api.listen', 'api.setOption', 'api.tcpStates', 'api.loopbackPair', 'raw.bind', 'raw.tcpDiagDump']) {
      expect(succeeded, name).toContain(name);
    }
  }, 240_000);
});

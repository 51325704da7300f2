// The public types agree with the runtime: test/types/api.ts compiled with tsc --noEmit
// against dist/*.d.ts,
// its @ts-expect-error lines failing the compile if a type drifts from what runs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from './helpers/dist';

ensureBuilt();

describe('types', () => {
  it('test/types/api.ts type-checks, each expected error still an error', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--target', 'ES2022', '--lib', 'ES2022,ESNext.Disposable', '--module', 'commonjs',
      '--moduleResolution', 'node', '--esModuleInterop', '--skipLibCheck', '--types', 'node', join(ROOT, 'test', 'types', 'api.ts')];
    const run = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
    // Exit 0 and nothing said: a crash or a missing tsc fails too, not only a type error.
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  }, 60_000);

  // vitest strips types without checking them: a name a test imports that its module no
  // longer exports is undefined at run time, and `describe.skipIf(!missing)` then skips the
  // whole file in silence (it happened: three strace-witnessed files). tsc over the tests
  // finds every such import; the tests' other type looseness is not judged here.
  it('every name the tests import exists in the module they import it from', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--target', 'ES2023', '--lib', 'ES2023,ESNext.Disposable', '--module', 'commonjs', '--moduleResolution', 'node',
      '--esModuleInterop', '--skipLibCheck', '--allowJs', '--types', 'node', ...readdirSync(join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts')).map((f) => join(ROOT, 'test', f))];
    const run = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
    const output = `${run.stdout}${run.stderr}`;
    // tsc ran to its end: exit 0, or 2 with its diagnostics (a crash or a missing tsc is neither).
    expect(run.status === 0 || (run.status === 2 && /error TS\d+:/.test(output))).toBe(true);
    expect(output.split('\n').filter((line) => /error TS(2305|2614|2724|2459|2460|2307):/.test(line))).toEqual([]);
  }, 120_000);
});

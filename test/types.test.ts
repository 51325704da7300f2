// The public types agree with the runtime: test/types/api.ts compiled with tsc --noEmit
// against dist/*.d.ts,
// its @ts-expect-error lines failing the compile if a type drifts from what runs.
import { spawnSync } from 'node:child_process';
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
});

// The public types agree with the runtime: test/types/api.ts compiled with tsc --noEmit
// against dist/*.d.ts,
// its @ts-expect-error lines failing the compile if a type drifts from what runs.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from './helpers/dist';

ensureBuilt();

describe('types', () => {
  it('test/types/api.ts type-checks, each expected error still an error', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--target', 'ES2022', '--lib', 'ES2022,ESNext.Disposable', '--module', 'commonjs',
      '--moduleResolution', 'node', '--esModuleInterop', '--skipLibCheck', '--types', 'node', join(ROOT, 'test', 'types', 'api.ts')];
    let output = '';
    try {
      execFileSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toBe('');
  }, 60_000);
});

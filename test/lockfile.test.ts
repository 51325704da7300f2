// `npm install` in a fresh clone must leave package-lock.json as committed: npm rewrites
// the lockfile's root entry from package.json, so the fields it copies must agree (once,
// `engines` did not). .ci/run also runs the real round trip (npm install
// --package-lock-only, then cmp) against the registry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/dist';

const read = (name: string) => JSON.parse(readFileSync(join(ROOT, name), 'utf8')) as Record<string, unknown>;

// The package.json fields npm copies into packages[""] (arborist's root node).
const COPIED = ['name', 'version', 'license', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'engines', 'os', 'cpu', 'bin'];

describe('package-lock.json', () => {
  it("agrees with package.json in every field npm copies into its root entry", () => {
    const manifest = read('package.json');
    const lock = read('package-lock.json') as { name: string; version: string; packages: Record<string, Record<string, unknown>> };
    const root = lock.packages[''];
    expect(lock.name).toBe(manifest.name);
    expect(lock.version).toBe(manifest.version);
    for (const field of COPIED) expect({ field, value: root[field] }).toEqual({ field, value: manifest[field] });
  });
});

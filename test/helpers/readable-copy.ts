// A copy of what a child needs to load the package (dist/, the built addon or the
// prebuilds, package.json, node-gyp-build) in a fresh world-readable directory: a child
// running as another uid (65534) cannot read the checkout when it sits in a 0700
// directory (a temporary clone, /root).
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './dist';

/** a+rX, as chmod -R would: a checkout made under umask 077 has 0600 files. */
function openUp(path: string): void {
  const stat = statSync(path);
  chmodSync(path, stat.mode | (stat.isDirectory() || stat.mode & 0o100 ? 0o555 : 0o444));
  if (stat.isDirectory()) for (const entry of readdirSync(path)) openUp(join(path, entry));
}

// build/Release is absent where only the prebuilds are (PREBUILDS_ONLY runs after npm pack).
const PARTS = ['package.json', 'dist', 'build/Release/sockctl.node', 'prebuilds', 'node_modules/node-gyp-build'];

export function readableCopy(extraFiles: string[] = []): { root: string; dist: string; file(name: string): string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sockctl-readable-'));
  for (const part of PARTS) {
    if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(root, part), { recursive: true });
  }
  for (const file of extraFiles) cpSync(file, join(root, 'files', file.split('/').at(-1)!));
  openUp(root); // mkdtemp makes it 0700
  return {
    root,
    dist: join(root, 'dist', 'index.js'),
    file: (name) => join(root, 'files', name),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

// A copy of what a child needs to load the package (dist/, the built addon, package.json,
// node-gyp-build) in a fresh world-readable directory: a child running as another uid
// (65534) cannot read the checkout when it sits in a 0700 directory (a temporary clone,
// /root).
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './dist';

function openUp(path: string): void {
  chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) openUp(join(path, entry));
}

export function readableCopy(extraFiles: string[] = []): { root: string; dist: string; file(name: string): string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sockctl-readable-'));
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'build', 'Release', 'sockctl.node'), join(root, 'build', 'Release', 'sockctl.node'));
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  cpSync(join(ROOT, 'node_modules', 'node-gyp-build'), join(root, 'node_modules', 'node-gyp-build'), { recursive: true });
  for (const file of extraFiles) cpSync(file, join(root, 'files', file.split('/').at(-1)!));
  openUp(root);
  return {
    root,
    dist: join(root, 'dist', 'index.js'),
    file: (name) => join(root, 'files', name),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

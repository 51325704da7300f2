// The two builds (node-gyp, cmake-js) and package.json agree on what they build and how.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
// binding.gyp is JSON with # comments.
const gyp = JSON.parse(read('binding.gyp').replace(/^\s*#.*$/gm, '')) as {
  targets: Array<{ sources: string[]; defines: string[]; conditions: Array<[string, { sources: string[] }]> }>;
};
const cmake = read('CMakeLists.txt');
const pkg = JSON.parse(read('package.json')) as { binary: { napi_versions: number[] }; files: string[]; scripts: Record<string, string> };

describe('build configuration', () => {
  it('binding.gyp compiles every native/*.cc, as CMakeLists.txt does by its glob', () => {
    const sources = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.cc')).map((f) => `native/${f}`);
    expect([...gyp.targets[0]!.sources].sort()).toEqual(sources.sort());
    expect(cmake).toMatch(/file\(GLOB SOCKCTL_SOURCES CONFIGURE_DEPENDS "\$\{CMAKE_SOURCE_DIR\}\/native\/\*\.cc"\)/);
  });

  it('both builds add the platform side of native/sys/sys.h, Linux or macOS, and every native/sys/*.cc is one', () => {
    const platform = Object.fromEntries(gyp.targets[0]!.conditions.map(([when, { sources }]) => [when, sources]));
    expect(platform).toEqual({
      "OS=='linux'": ['native/sys/linux.cc', 'native/sys/linux_diag.cc'],
      "OS=='mac'": ['native/sys/darwin.cc'],
    });
    const sys = readdirSync(join(root, 'native', 'sys')).filter((f) => f.endsWith('.cc')).map((f) => `native/sys/${f}`);
    expect(sys.sort()).toEqual(Object.values(platform).flat().sort());
    expect(cmake).toContain('"${CMAKE_SOURCE_DIR}/native/sys/linux.cc" "${CMAKE_SOURCE_DIR}/native/sys/linux_diag.cc"');
    expect(cmake).toContain('"${CMAKE_SOURCE_DIR}/native/sys/darwin.cc"');
    // No platform #if outside the seam: the build picks the file.
    for (const file of readdirSync(join(root, 'native')).filter((f) => /\.(cc|h)$/.test(f))) {
      expect(read(`native/${file}`), file).not.toMatch(/^#\s*if.*(__linux__|__APPLE__)/m);
    }
  });

  it('fails at load on Windows with a clear message', () => {
    // In a child process, on the compiled module (npm install / npm run build:gyp make dist/).
    const binding = JSON.stringify(join(root, 'dist', 'core', 'binding.js'));
    const script = `Object.defineProperty(process, 'platform', { value: 'win32' });
      try { require(${binding}); } catch (e) { console.log(e.message); }`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(out.stdout.trim()).toBe(
      'sockctl does not support Windows: it needs POSIX descriptors (listen on an fd, dup, shutdown on raw sockets)',
    );
  });
});

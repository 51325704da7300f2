// The two builds (node-gyp, cmake-js) and package.json agree on what they build and how.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
// binding.gyp is JSON with # comments.
const gyp = JSON.parse(read('binding.gyp').replace(/^\s*#.*$/gm, '')) as {
  targets: Array<{ sources: string[]; defines: string[] }>;
};
const cmake = read('CMakeLists.txt');
const pkg = JSON.parse(read('package.json')) as { binary: { napi_versions: number[] }; files: string[] };

describe('build configuration', () => {
  it('binding.gyp compiles every native/*.cc, as CMakeLists.txt does by its glob', () => {
    const sources = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.cc')).map((f) => `native/${f}`);
    expect([...gyp.targets[0]!.sources].sort()).toEqual(sources.sort());
    expect(cmake).toMatch(/file\(GLOB SOCKCTL_SOURCES CONFIGURE_DEPENDS "\$\{CMAKE_SOURCE_DIR\}\/native\/\*\.cc"\)/);
  });

  it('NAPI_VERSION and the exception mode are the same in binding.gyp, CMakeLists.txt and package.json', () => {
    const version = /^NAPI_VERSION=(\d+)$/;
    const gypVersion = Number(gyp.targets[0]!.defines.find((d) => version.test(d))!.match(version)![1]);
    expect(cmake).toContain(`NAPI_VERSION=${gypVersion}`);
    expect(pkg.binary.napi_versions).toEqual([gypVersion]);
    expect(gyp.targets[0]!.defines).toContain('NAPI_CPP_EXCEPTIONS');
    expect(cmake).toMatch(/target_compile_definitions\([^)]*NAPI_CPP_EXCEPTIONS/);
  });

  it('package.json ships what a build from source needs', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['native/', 'binding.gyp', 'CMakeLists.txt', 'dist/', 'prebuilds/']));
  });

  it.skipIf(spawnSync('g++', ['--version']).status !== 0)('the non-Linux branches compile (__linux__ undefined)', () => {
    const addonApi = join(root, 'node_modules', 'node-addon-api');
    const nodeHeaders = join(process.execPath, '..', '..', 'include', 'node');
    for (const file of readdirSync(join(root, 'native')).filter((f) => f.endsWith('.cc'))) {
      const args = ['-std=c++17', '-fsyntax-only', '-U__linux__', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS'];
      const out = spawnSync('g++', [...args, `-I${nodeHeaders}`, `-I${addonApi}`, join(root, 'native', file)], { encoding: 'utf8' });
      expect(out.stderr, file).toBe('');
      expect(out.status, file).toBe(0);
    }
  }, 120_000); // one compile per native file: over 20 s on a loaded machine

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

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

  it('package.json claims only the systems that are built: Linux, and macOS (compiled by test/package/macos.sh)', () => {
    expect((pkg as unknown as { os: string[] }).os).toEqual(['linux', 'darwin']);
    expect(read('.ci/run')).toContain('bash test/package/macos.sh');
  });

  it('NAPI_VERSION and the exception mode are the same in binding.gyp, CMakeLists.txt and package.json', () => {
    const version = /^NAPI_VERSION=(\d+)$/;
    const gypVersion = Number(gyp.targets[0]!.defines.find((d) => version.test(d))!.match(version)![1]);
    expect(cmake).toContain(`NAPI_VERSION=${gypVersion}`);
    expect(pkg.binary.napi_versions).toEqual([gypVersion]);
    expect(gyp.targets[0]!.defines).toContain('NAPI_CPP_EXCEPTIONS');
    expect(cmake).toMatch(/target_compile_definitions\([^)]*NAPI_CPP_EXCEPTIONS/);
  });

  it('npm run prebuild makes linux-arm64 (cross-compiled) and linux-x64 from binding.gyp with the same flags', () => {
    const flags = (script: string) => script.split(/\s+/).filter((word) => word.startsWith('--') && !/^--(strip-bin|arch)=/.test(word));
    const x64 = /&& (prebuildify .*)$/.exec(pkg.scripts.prebuild!)![1]!;
    const arm64 = pkg.scripts['prebuild:arm64']!;
    expect(pkg.scripts.prebuild).toMatch(/^npm run prebuild:arm64 && prebuildify /); // x64 last: build/'s objects are x64 again
    expect(flags(arm64)).toEqual(flags(x64));
    expect(flags(x64)).toEqual(['--napi', '--strip', '--tag-libc']);
    expect(arm64).toMatch(/^CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g\+\+ prebuildify .*--strip-bin=aarch64-linux-gnu-strip .*--arch=arm64$/);
    expect(pkg.scripts.prepack).toBe('npm run prebuild');
  });

  it('both builds have the same defines, NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS among them (worker termination)', () => {
    const cmakeDefines = /target_compile_definitions\(\$\{PROJECT_NAME\} PRIVATE ([^)]*)\)/.exec(cmake)![1]!.trim().split(/\s+/);
    expect([...cmakeDefines].sort()).toEqual([...gyp.targets[0]!.defines].sort());
    expect(gyp.targets[0]!.defines).toContain('NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS');
  });

  it('package.json ships what a build from source needs', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['native/', 'binding.gyp', 'CMakeLists.txt', 'dist/', 'prebuilds/']));
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

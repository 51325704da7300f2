// Out of memory inside the socket dump is an error (ENOMEM), never std::terminate: a child
// node runs with an operator new (LD_PRELOAD, test/fixtures/fail-new.cc) that throws
// std::bad_alloc once for the dump's 64 KiB receive buffer, on the sync and the async path.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

ensureBuilt();
const hasCompiler = spawnSync('g++', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'sockctl-oom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The first allocation of 65536 bytes once armed: ReceiveRows' buffer (kReceiveBytes).
const SCRIPT = `
  const { tcpStates, tcpStatesSync } = require(process.env.SOCKCTL_DIST);
  const pick = (e) => ({ name: e.constructor.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message });
  const out = {};
  process.env.SOCKCTL_FAIL_NEW_BYTES = '65536';
  try { tcpStatesSync({ source: 'netlink' }); out.sync = 'no error'; } catch (e) { out.sync = pick(e); }
  out.syncAfter = Array.isArray(tcpStatesSync({ source: 'netlink' }));
  console.log(JSON.stringify(out));`;

const ASYNC_SCRIPT = `
  const { tcpStates } = require(process.env.SOCKCTL_DIST);
  const pick = (e) => ({ name: e.constructor.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message });
  process.env.SOCKCTL_FAIL_NEW_BYTES = '65536';
  tcpStates({ source: 'netlink' }).then(() => 'no error', pick).then(async (async) => {
    console.log(JSON.stringify({ async, asyncAfter: Array.isArray(await tcpStates({ source: 'netlink' })) }));
  });`;

describe.skipIf(!isLinux || !hasCompiler)('std::bad_alloc in the dump (g++ builds the preload)', () => {
  const preload = join(dir, 'fail-new.so');
  const run = (script: string) => {
    if (!existsSync(preload)) {
      execFileSync('g++', ['-shared', '-fPIC', '-O1', '-o', preload, join(__dirname, 'fixtures', 'fail-new.cc')]);
    }
    const child = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
      env: { ...process.env, LD_PRELOAD: preload, SOCKCTL_DIST: DIST_INDEX },
    });
    expect(child.signal).toBeNull(); // SIGABRT is what std::terminate gives
    expect(child.stderr).not.toContain('terminate called');
    expect(child.status).toBe(0);
    return JSON.parse(child.stdout) as Record<string, unknown>;
  };
  const enomem = { name: 'Error', code: 'ENOMEM', errno: -12, syscall: 'sock_diag', message: 'sock_diag ENOMEM' };

  it('the sync dump throws ENOMEM, and the next dump works', () => {
    expect(run(SCRIPT)).toEqual({ sync: enomem, syncAfter: true });
  });

  it('the async dump rejects with ENOMEM, and the next dump works', () => {
    expect(run(ASYNC_SCRIPT)).toEqual({ async: enomem, asyncAfter: true });
  });
});

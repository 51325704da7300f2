// The sockctl command against bad or hostile input: names that are not commands, --version,
// an --svg path that cannot be written, and a process that names itself with escapes.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, ROOT, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

ensureBuilt();
const sockctl = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15_000 });

describe('sockctl input', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('%s is an unknown command (exit 2)', (name) => {
    const run = sockctl(name);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`sockctl: unknown command '${name}'`);
    expect(run.stdout).toBe('');
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
    const run = sockctl('--version');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`sockctl ${version}\n`);
  });

  it.each([
    ['a missing directory', '/nonexistent-sockctl-dir/x.svg', 'ENOENT'],
    ['a directory', '/tmp', 'EISDIR'],
  ])('lab --svg on %s: exit 2 before any scenario runs', (_what, path, code) => {
    const run = sockctl('lab', '--svg', path);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`sockctl lab: --svg ${path}: ${code}`);
    expect(run.stdout).toBe(''); // no scenario printed anything
  });
});

describe.skipIf(!isLinux)('sockctl states -p and a process named with terminal escapes', () => {
  let child: ReturnType<typeof spawn> | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }
  });

  it('prints the control characters escaped, never raw', async () => {
    // The name python3 gives itself through /proc/self/comm (prctl PR_SET_NAME): ESC [31m is "red".
    const script = [
      'import socket, sys',
      "open('/proc/self/comm', 'w').write('ev\\x1b[31mil\\x07\\x9b')",
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()',
      'print(s.getsockname()[1], flush=True)',
      'sys.stdin.read()',
    ].join('\n');
    child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = String(line).trim();
    // The witness: the kernel holds the raw name.
    const name = 'ev\x1b[31mil\x07\x9b'; // ESC, BEL and the 8-bit CSI (C1)
    expect(readFileSync(`/proc/${child.pid}/comm`, 'utf8')).toBe(`${name}\n`);

    const run = sockctl('states', '--port', port, '-p');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`${child.pid}/ev\\x1b[31mil\\x07\\x9b`);
    expect(run.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/); // newlines only

    // --json: escaped as JSON (C1 too, which JSON.stringify leaves raw), and it parses back.
    const json = sockctl('states', '--port', port, '-p', '--json');
    expect(json.status).toBe(0);
    expect(json.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const rows = JSON.parse(json.stdout) as Array<{ owners: Array<{ command: string }> }>;
    expect(rows[0]!.owners[0]!.command).toBe(name);

    // sockctl why names the same listener as the cause, escaped the same way, text and JSON.
    const why = sockctl('why', `127.0.0.1:${port}`);
    expect(why.status).toBe(1);
    expect(why.stdout).toContain(`pid ${child.pid} (ev\\x1b[31mil\\x07\\x9b, uid`);
    expect(why.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const whyJson = sockctl('why', `127.0.0.1:${port}`, '--json');
    expect(whyJson.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(JSON.parse(whyJson.stdout).causes[0].sockets[0].command).toBe(name);
  });
});

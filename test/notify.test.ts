// notify(state) read by an independent receiver: a python3 AF_UNIX datagram socket, bound
// at a path and at an abstract name, prints what arrives and the sender's pid (SO_PASSCRED).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { notify } from '../lib/index';
import { isLinux, openDescriptorCount } from './helpers/net';

const RECEIVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
address = sys.argv[1]
s.bind("\\0" + address[1:] if address.startswith("@") else address)
print("ready", flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = next((struct.unpack("iii", d)[0] for level, kind, d in ancillary if kind == socket.SCM_CREDENTIALS), None)
    print(json.dumps({"data": data.decode(), "pid": pid}), flush=True)
`;

let receiver: ChildProcess | undefined;
const saved = process.env.NOTIFY_SOCKET;
afterEach(async () => {
  if (saved === undefined) delete process.env.NOTIFY_SOCKET;
  else process.env.NOTIFY_SOCKET = saved;
  const child = receiver;
  receiver = undefined;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill();
    await exited;
  }
});

async function receive(address: string) {
  receiver = spawn('python3', ['-c', RECEIVER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: receiver.stdout! })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe('ready');
  return async () => JSON.parse((await lines.next()).value as string) as { data: string; pid: number };
}

describe.skipIf(!isLinux)('notify(state): sd_notify to NOTIFY_SOCKET', () => {
  it('a path: the receiver gets READY=1 from this pid; then STATUS and several lines in one datagram', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-notify-'));
    try {
      const path = join(dir, 'notify');
      const next = await receive(path);
      process.env.NOTIFY_SOCKET = path;
      const before = openDescriptorCount();
      expect(await notify('READY=1')).toBe(true);
      expect(await next()).toEqual({ data: 'READY=1', pid: process.pid });
      expect(await notify('STATUS=serving\nMAINPID=1')).toBe(true);
      expect((await next()).data).toBe('STATUS=serving\nMAINPID=1');
      expect(openDescriptorCount()).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an abstract @name: sent to "\\0name" with the exact address length (a padded one would be another name)', async () => {
    const name = `@sockctl-notify-${process.pid}-${Date.now()}`;
    const next = await receive(name);
    process.env.NOTIFY_SOCKET = name;
    expect(await notify('RELOADING=1')).toBe(true);
    expect(await next()).toEqual({ data: 'RELOADING=1', pid: process.pid });
  });

  it('no NOTIFY_SOCKET (or an empty one): resolves false, sends nothing', async () => {
    delete process.env.NOTIFY_SOCKET;
    expect(await notify('READY=1')).toBe(false);
    process.env.NOTIFY_SOCKET = '';
    expect(await notify('READY=1')).toBe(false);
  });

  it('faults: nobody at the path (ENOENT), nobody at the name (ECONNREFUSED), a relative path (EINVAL); bad states', async () => {
    const before = openDescriptorCount();
    process.env.NOTIFY_SOCKET = '/nonexistent/sockctl-notify';
    await expect(notify('READY=1')).rejects.toThrow(
      expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'connect', address: '/nonexistent/sockctl-notify', message: 'connect ENOENT /nonexistent/sockctl-notify (NOTIFY_SOCKET, sending "READY=1")' }),
    );
    process.env.NOTIFY_SOCKET = `@sockctl-nobody-${process.pid}`;
    await expect(notify('READY=1')).rejects.toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    process.env.NOTIFY_SOCKET = 'relative/path';
    await expect(notify('READY=1')).rejects.toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'connect' }));
    expect(openDescriptorCount()).toBe(before);
    await expect(notify(1 as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'The "state" argument must be of type string. Received type number (1)' }),
    );
    await expect(notify('')).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('a full receiver queue (a receiver that reads nothing yet): notify waits for room instead of EAGAIN; bounded by timeoutMs and signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-notify-'));
    // python3 fills its own queue from another socket until EAGAIN, then reads nothing
    // until told to (a line on stdin), then prints every datagram.
    const script = `
import socket, sys, json
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
r.bind(sys.argv[1])
w = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
w.setblocking(False)
n = 0
try:
    while n < 10000:
        w.sendto(b"FILL", sys.argv[1])
        n += 1
except BlockingIOError:
    pass
print(json.dumps({"filled": n}), flush=True)
for line in sys.stdin:
    r.setblocking(False)
    got = []
    try:
        while True:
            got.append(r.recv(4096).decode())
    except BlockingIOError:
        pass
    print(json.dumps(got), flush=True)
`;
    const path = join(dir, 'notify');
    const child = spawn('python3', ['-c', script, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    receiver = child;
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const { filled } = JSON.parse((await lines.next()).value as string) as { filled: number };
      expect(filled).toBeGreaterThan(0);
      expect(filled).toBeLessThan(10000);
      process.env.NOTIFY_SOCKET = path;
      const before = openDescriptorCount();
      // Bounded: nothing is read, so the deadline comes.
      await expect(notify('READY=1', { timeoutMs: 200 })).rejects.toThrow(expect.objectContaining({ code: 'ETIMEDOUT', address: path }));
      const controller = new AbortController();
      const aborted = notify('READY=1', { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toThrow(expect.objectContaining({ name: 'AbortError', code: 'ABORT_ERR' }));
      expect(openDescriptorCount()).toBe(before);
      // Waiting: the receiver reads its queue, then the datagram goes.
      let sent = false;
      const waiting = notify('READY=1\nSTATUS=waited').then((v) => (sent = v));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(sent).toBe(false);
      child.stdin!.write('read\n');
      const first = JSON.parse((await lines.next()).value as string) as string[];
      expect(first.length).toBeGreaterThan(0);
      await waiting;
      expect(sent).toBe(true);
      child.stdin!.write('read\n');
      const second = JSON.parse((await lines.next()).value as string) as string[];
      expect([...first, ...second].filter((d) => d !== 'FILL')).toEqual(['READY=1\nSTATUS=waited']);
      expect(openDescriptorCount()).toBe(before);
      await expect(notify('READY=1', { bogus: 1 } as never)).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      await expect(notify('READY=1', { timeoutMs: -1 })).rejects.toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

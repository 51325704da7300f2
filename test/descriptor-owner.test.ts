// OwnedDescriptor: what it will own is checked, and one dropped without close() is closed
// when it is garbage-collected, with a warning (as Node does for a FileHandle); but never
// the file that reused its number after a close behind its back.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OwnedDescriptor } from '../lib/index';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

describe('OwnedDescriptor', () => {
  it('owns only a descriptor number', () => {
    for (const fd of [NaN, 1.5, 2 ** 32 + 3, -1]) {
      expect(() => new OwnedDescriptor(fd)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(() => new OwnedDescriptor('3' as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it.skipIf(!isLinux)('closes a dropped descriptor on garbage collection, with a warning', () => {
    ensureBuilt();
    const script = `
      const { readlinkSync } = require('node:fs');
      const { dup, socket } = require(${JSON.stringify(DIST_INDEX)});
      const link = (fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return null; } };
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.message));
      const fd = (() => { dup(0).close(); return socket('ipv4').fd; })(); // one closed properly, one dropped
      const socketLink = link(fd);
      // The registry's callback runs in a task after a collection: collect, look, at most 50 times.
      let rounds = 0;
      const timer = setInterval(() => {
        globalThis.gc();
        if (link(fd) !== socketLink || ++rounds === 50) {
          clearInterval(timer);
          setImmediate(() => console.log(JSON.stringify({ fd, socketLink, now: link(fd), warnings })));
        }
      }, 20);
    `;
    const out = spawnSync(process.execPath, ['--expose-gc', '--no-warnings', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    const { fd, socketLink, now, warnings } = JSON.parse(out.stdout) as { fd: number; socketLink: string; now: string | null; warnings: string[] };
    expect(socketLink).toMatch(/^socket:\[\d+\]$/);
    expect(now).not.toBe(socketLink);
    expect(warnings).toEqual([`sockctl: descriptor ${fd} was garbage-collected without close(); closed it`]);
  });

  it.skipIf(!isLinux)('a dropped descriptor closed behind its back leaves alone the file that reused its number', () => {
    ensureBuilt();
    const script = `
      const { closeSync, openSync, readlinkSync } = require('node:fs');
      const { socket } = require(${JSON.stringify(DIST_INDEX)});
      const link = (fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return null; } };
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.message));
      const fd = (() => { const s = socket('ipv4'); closeSync(s.fd); return s.fd; })(); // closed behind the object's back
      const file = openSync('/dev/null', 'r'); // the lowest free number: the one just closed
      let rounds = 0;
      const timer = setInterval(() => {
        globalThis.gc();
        if (warnings.length > 0 || ++rounds === 50) {
          clearInterval(timer);
          setImmediate(() => console.log(JSON.stringify({ fd, file, now: link(file), warnings })));
        }
      }, 20);
    `;
    const out = spawnSync(process.execPath, ['--expose-gc', '--no-warnings', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    const { fd, file, now, warnings } = JSON.parse(out.stdout) as { fd: number; file: number; now: string | null; warnings: string[] };
    expect(file).toBe(fd);
    expect(now).toBe('/dev/null'); // still open: not closed by the socket object's finalizer
    expect(warnings).toEqual([`sockctl: descriptor ${fd} was garbage-collected without close(); it was closed behind its back (the number names another file now or none): left alone`]);
  });
});

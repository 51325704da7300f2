// OwnedDescriptor: what it will own is checked, and one dropped without close() is closed
// when it is garbage-collected, with a warning (as Node does for a FileHandle); but never
// the file that reused its number after a close behind its back.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OwnedDescriptor } from '../lib/index';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

/**
 * Runs `setup` in a child node (--expose-gc, the built package as `dup`, `socket`), then
 * collects every 20 ms until `until` holds or 50 rounds have passed (the registry's callback
 * runs in a task after a collection), and returns the value of `report`, through JSON.
 */
function collectInChild<T>(setup: string, until: string, report: string): T {
  ensureBuilt();
  const script = `
    const { closeSync, openSync, readlinkSync } = require('node:fs');
    const { dup, socket } = require(${JSON.stringify(DIST_INDEX)});
    const link = (fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return null; } };
    const warnings = [];
    process.on('warning', (w) => warnings.push(w.message));
    ${setup}
    let rounds = 0;
    const timer = setInterval(() => {
      globalThis.gc();
      if ((${until}) || ++rounds === 50) {
        clearInterval(timer);
        setImmediate(() => console.log(JSON.stringify(${report})));
      }
    }, 20);
  `;
  const out = spawnSync(process.execPath, ['--expose-gc', '--no-warnings', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  return JSON.parse(out.stdout) as T;
}

describe('OwnedDescriptor', () => {
  it('owns only a descriptor number', () => {
    for (const fd of [NaN, 1.5, 2 ** 32 + 3, -1]) {
      expect(() => new OwnedDescriptor(fd)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(() => new OwnedDescriptor('3' as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it.skipIf(!isLinux)('closes a dropped descriptor on garbage collection, with a warning', () => {
    const { fd, socketLink, now, warnings } = collectInChild<{ fd: number; socketLink: string; now: string | null; warnings: string[] }>(
      `const fd = (() => { dup(0).close(); return socket('ipv4').fd; })(); // one closed properly, one dropped
       const socketLink = link(fd);`,
      'link(fd) !== socketLink',
      '{ fd, socketLink, now: link(fd), warnings }',
    );
    expect(socketLink).toMatch(/^socket:\[\d+\]$/);
    expect(now).not.toBe(socketLink);
    expect(warnings).toEqual([`sockctl: descriptor ${fd} was garbage-collected without close(); closed it`]);
  });

  it.skipIf(!isLinux)('a dropped descriptor closed behind its back leaves alone the file that reused its number', () => {
    const { fd, file, now, warnings } = collectInChild<{ fd: number; file: number; now: string | null; warnings: string[] }>(
      `const fd = (() => { const s = socket('ipv4'); closeSync(s.fd); return s.fd; })(); // closed behind the object's back
       const file = openSync('/dev/null', 'r'); // the lowest free number: the one just closed`,
      'warnings.length > 0',
      '{ fd, file, now: link(file), warnings }',
    );
    expect(file).toBe(fd);
    expect(now).toBe('/dev/null'); // still open: not closed by the socket object's finalizer
    expect(warnings).toEqual([`sockctl: descriptor ${fd} was garbage-collected without close(); it was closed behind its back (the number names another file now or none): left alone`]);
  });
});

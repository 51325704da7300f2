// The supervisor's NOTIFY_SOCKET: sd_notify(3) messages from its children, each told apart
// by the sender's pid, which the kernel attaches (SO_PASSCRED) and the sender cannot forge.
//
// Who may send: the socket is a path in a private 0700 directory (mkdtemp), so that only
// this uid and root can reach it. An abstract name would be listed in /proc/net/unix for
// every process of the network namespace, and has no permissions: anyone could flood it.
// A datagram from a process that is not one of the workers nor a descendant of one (an
// `npm start` or `sh -c` that does not exec sends for its child) is dropped before it is
// parsed; the answer per pid is kept for a second, so a flood costs one /proc walk a second.
import { mkdtempSync, rmdirSync, unlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binding, type NativeNotifyReceiver } from '../core/binding';

export interface NotifyMessage {
  pid: number;
  uid: number;
  /** KEY=VALUE lines, as sd_notify(3) sends them ('READY' → '1', 'STATUS' → text). */
  fields: ReadonlyMap<string, string>;
}

function parse(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const equals = line.indexOf('=');
    if (equals > 0) fields.set(line.slice(0, equals), line.slice(equals + 1));
  }
  return fields;
}

/** The parent pid in /proc/PID/stat (after the command's closing parenthesis), or 0. */
export function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

const ANCESTRY_DEPTH = 16;
const VERDICT_MS = 1000;
const VERDICTS_MAX = 4096;

export class NotifyReceiver<W> {
  /** What NOTIFY_SOCKET says: a path in a directory only this uid can enter. */
  readonly address: string;
  /** The private directory the socket is in (the keep-connections relay's too). */
  readonly directory: string;
  readonly #dir: string;
  readonly #native: NativeNotifyReceiver;
  readonly #workerOf: (pid: number) => W | undefined;
  /** pid → the worker it speaks for (null: nobody's), and until when that answer holds. */
  readonly #verdicts = new Map<number, { worker: W | null; until: number }>();
  /** Datagrams dropped: senders that are not our workers or their descendants. */
  dropped = 0;

  /**
   * `workerOf(pid)` names the worker a pid is; a message from a worker's descendant is that
   * worker's. `onMessage` gets only those.
   */
  constructor(workerOf: (pid: number) => W | undefined, onMessage: (worker: W, message: NotifyMessage) => void, directory = tmpdir()) {
    this.#workerOf = workerOf;
    this.#dir = mkdtempSync(join(directory, 'sockctl-serve-')); // 0700, a name nobody could guess
    this.address = join(this.#dir, 'notify');
    this.directory = this.#dir;
    try {
      this.#native = new binding.NotifyReceiver(this.address, (pid, uid, _gid, text) => {
        const worker = this.speaksFor(pid);
        if (worker === null) {
          this.dropped++;
          return;
        }
        onMessage(worker, { pid, uid, fields: parse(text) });
      });
    } catch (error) {
      rmdirSync(this.#dir);
      throw error;
    }
  }

  /** The worker `pid` is or descends from; null: nobody's. */
  speaksFor(pid: number): W | null {
    const direct = this.#workerOf(pid);
    if (direct !== undefined) return direct;
    const now = Date.now();
    const known = this.#verdicts.get(pid);
    if (known !== undefined && known.until > now) return known.worker;
    let worker: W | null = null;
    for (let p = parentOf(pid), depth = 0; p > 1 && p !== process.pid && depth < ANCESTRY_DEPTH; p = parentOf(p), depth++) {
      const found = this.#workerOf(p);
      if (found !== undefined) {
        worker = found;
        break;
      }
    }
    if (this.#verdicts.size >= VERDICTS_MAX) this.#verdicts.clear();
    this.#verdicts.set(pid, { worker, until: now + VERDICT_MS });
    return worker;
  }

  /** Closes the socket and removes what the constructor made: the socket file and its directory. */
  close(): void {
    if (this.#native.fd === -1) return;
    this.#native.close();
    try {
      unlinkSync(this.address);
      rmdirSync(this.#dir);
    } catch {
      // Already gone (someone with our uid or root removed it): nothing of ours is left.
    }
  }
}

// The supervisor's NOTIFY_SOCKET: sd_notify(3) messages from its children, each told apart
// by the sender's pid, which the kernel attaches (SO_PASSCRED) and the sender cannot forge.
import { randomBytes } from 'node:crypto';
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

export class NotifyReceiver {
  /** What NOTIFY_SOCKET says: an abstract name, so nothing is left on disk if we are killed. */
  readonly address: string;
  readonly #native: NativeNotifyReceiver;

  constructor(onMessage: (message: NotifyMessage) => void) {
    this.address = `@sockctl-serve/${process.pid}/${randomBytes(8).toString('hex')}`;
    this.#native = new binding.NotifyReceiver(this.address, (pid, uid, _gid, text) => onMessage({ pid, uid, fields: parse(text) }));
  }

  close(): void {
    this.#native.close();
  }
}

// takeover(options): hand the listeners of the running version of a program to the next
// one, so the port never closes and nothing queued is reset (a listener's accept queue
// belongs to the socket, which lives on as long as one process holds it). One type with
// one lifecycle, as tableflip's Upgrader has:
//
//   const t = await takeover({ path, listeners: { web: { port: 8080 } } });
//   await t.listen('web', server);   // the previous version's socket, or a new one
//   await t.ready();                 // the previous version closes its copy and drains
//   await t.replaced();              // a newer version took over; this one has drained
//
// The protocol, over the AF_UNIX socket at `path` (mode 0600, the peer's uid checked by
// SO_PEERCRED on both ends), one frame at a time (frames.ts):
//   new → old  hello { protocol: { min, max } }      old → new  hello { protocol } | refused
//   old → new  listeners { names } + their descriptors
//   new → old  ready                                  old → new  done (its copies closed)
// The new version then renames its own socket over `path` (made in a private 0700 directory
// beside it, never at a name another user could plant a link at), for the next one. Until
// `ready` the old version has closed nothing: a new version that dies, or is not ready
// within readyTimeoutMs, leaves it serving as before. One takeover at a time: a second
// one meanwhile is refused (EBUSY). The old version closes its copies, never shuts them
// down: shutdown(2) acts on the socket itself, the one the new version now serves on.
import { lstatSync, mkdtempSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { addressInfoOf, checkListening } from '../core/describe';
import { checkPrivateDirectory, unlinkOwn } from '../core/paths';
import { abortError, errnoException, illegalConstructor, invalidArgType, invalidArgValue, type SystemError } from '../core/errors';
import { fdOf } from '../core/target';
import { INT32_MAX, readOptions, validateInteger, validateObject } from '../core/validate';
import { listen } from '../listen/listen';
import { createListener, ListeningDescriptor } from '../listen/listener';
import { checkListenOptions, type ListenOptions } from '../listen/options';
import { checkSignal, onAbort } from './abort';
import { drain, type DrainResult } from './drain';
import { FdChannel, listenUnix } from './scm-rights';
import { receiveMessage, sendMessage, TAKEOVER_PROTOCOL } from './takeover-protocol';

export { TAKEOVER_PROTOCOL } from './takeover-protocol';

export interface TakeoverOptions {
  /** The AF_UNIX socket the running version offers its listeners on (made 0600). */
  path: string;
  /** By name: the listener's options for when the previous version does not hand it over (the first start). */
  listeners: Record<string, ListenOptions>;
  /** Each step of the exchange (default 5000 ms). */
  timeoutMs?: number;
  /** As the running version: how long a new one may take between receiving and ready (default 30000 ms). */
  readyTimeoutMs?: number;
  /** As the running version: drain()'s timeout once replaced (default 30000 ms). */
  drainTimeoutMs?: number;
  signal?: AbortSignal;
}

export type TakeoverState = 'serving' | 'offering' | 'handing-over' | 'replaced' | 'closed';

interface Slot {
  descriptor: ListeningDescriptor | null;
  server: net.Server | null;
}

interface Settings {
  path: string;
  timeoutMs: number;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
}

const OPTION_KEYS = ['path', 'listeners', 'timeoutMs', 'readyTimeoutMs', 'drainTimeoutMs', 'signal'];

function invalidState(message: string): Error & { code: string } {
  const error = new Error(`Invalid state: ${message}`) as Error & { code: string };
  error.code = 'ERR_INVALID_STATE';
  return error;
}

function checkOptions(options: unknown) {
  const o: Record<string, unknown> = readOptions(options, 'options', OPTION_KEYS, 'an option of takeover', true);
  if (typeof o.path !== 'string') throw invalidArgType('options.path', 'of type string', o.path);
  if (o.path.length === 0 || o.path.includes('\0')) throw invalidArgValue('options.path', o.path, 'must be a non-empty path without NUL');
  checkPrivateDirectory(o.path, 'takeover');
  const given = { ...validateObject(o.listeners, 'options.listeners') };
  const listeners = new Map<string, ListenOptions>();
  for (const [name, value] of Object.entries(given)) {
    if (name.length === 0) throw invalidArgValue('options.listeners', name, 'has an empty name');
    const snapshot = { ...validateObject(value, `options.listeners.${name}`) } as ListenOptions;
    checkListenOptions(snapshot); // every error before anything connects
    listeners.set(name, snapshot);
  }
  if (listeners.size === 0) throw invalidArgValue('options.listeners', given, 'must name at least one listener');
  const ms = (key: string, fallback: number) => (o[key] === undefined ? fallback : validateInteger(o[key], `options.${key}`, 0, INT32_MAX));
  const settings: Settings = { path: o.path, timeoutMs: ms('timeoutMs', 5000), readyTimeoutMs: ms('readyTimeoutMs', 30_000), drainTimeoutMs: ms('drainTimeoutMs', 30_000) };
  return { settings, listeners, signal: checkSignal(o.signal) };
}

/** Connects to the running version at `path`, or null when there is none (no file, or a stale one). */
function connectToRunning(path: string): FdChannel | null {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return null;
  }
  if (!isSocket) throw errnoException(osConstants.errno.ENOTSOCK, 'connect', { address: path, reason: 'the takeover path exists and is not a socket' });
  try {
    return FdChannel.connect(path);
  } catch (error) {
    if ((error as SystemError).code === 'ECONNREFUSED') return null; // a socket file nobody listens on any more
    throw error;
  }
}

function checkPeer(channel: FdChannel, path: string, who: string): void {
  const peer = channel.peerCredentials();
  const uid = process.geteuid?.() ?? peer.uid;
  if (peer.uid !== uid) {
    throw errnoException(osConstants.errno.EPERM, 'takeover', { address: path, reason: `${who} (pid ${peer.pid}) runs as uid ${peer.uid}, not ${uid}` });
  }
}

// Only takeover() makes a Takeover: `new Takeover(...)` from outside is refused, before anything is read.
const MAKE = Symbol('takeover()');

/** The socket file a version made at `path`: removed only while `path` is still that file. */
interface FileIdentity {
  dev: number;
  ino: number;
}

/**
 * Where a takeover is, with what that phase holds, in one place: close() closes whatever
 * the phase holds, and a step that awaited checks the phase is still the one it began in.
 * serving: the channel to the previous version, until ready() is done with it;
 * offering: the offer at `path` and the file it made there;
 * handing-over: those, and the channel of the one hand-over in progress.
 */
type Phase =
  | { state: 'serving'; previous: FdChannel | null }
  | { state: 'offering'; offer: net.Server; offered: FileIdentity }
  | { state: 'handing-over'; offer: net.Server; offered: FileIdentity; channel: FdChannel }
  | { state: 'replaced' }
  | { state: 'closed' };

/** The transitions there are; every change of phase goes through Takeover's #enter, which checks it. */
const NEXT: Readonly<Record<TakeoverState, readonly TakeoverState[]>> = {
  serving: ['offering', 'closed'],
  offering: ['handing-over', 'closed'],
  'handing-over': ['offering', 'replaced', 'closed'],
  replaced: ['closed'],
  closed: [],
};

export class Takeover {
  readonly path: string;
  /** The names the previous version handed over (empty on a first start). */
  readonly inherited: readonly string[];
  /** The previous version's pid, or null on a first start. */
  readonly previousPid: number | null;
  /** Failed attempts to take over from this version (the newest last, at most 10), each as its error. */
  readonly failures: Error[] = [];
  #phase: Phase;
  readonly #settings: Settings;
  readonly #slots: Map<string, Slot>;
  #replaced: Promise<DrainResult[]>;
  #resolveReplaced!: (results: DrainResult[]) => void;
  #rejectReplaced!: (error: Error) => void;

  /** @internal takeover() makes it; ERR_ILLEGAL_CONSTRUCTOR otherwise. */
  constructor(token: symbol, settings: Settings, slots: Map<string, Slot>, previous: FdChannel | null, inherited: string[], previousPid: number | null) {
    if (token !== MAKE) throw illegalConstructor();
    this.#settings = settings;
    this.path = settings.path;
    this.#slots = slots;
    this.#phase = { state: 'serving', previous };
    this.inherited = Object.freeze(inherited);
    this.previousPid = previousPid;
    this.#replaced = new Promise((resolve, reject) => {
      this.#resolveReplaced = resolve;
      this.#rejectReplaced = reject;
    });
    this.#replaced.catch(() => {}); // rejected by close() whether or not anyone waits
  }

  get state(): TakeoverState {
    return this.#phase.state;
  }

  /** The listener names, in the order of the options. */
  get names(): string[] {
    return [...this.#slots.keys()];
  }

  /** Serves `server` on the listener `name` (listen(server, { descriptor })). */
  async listen<S extends net.Server>(name: string, server: S): Promise<S> {
    const slot = this.#slots.get(name);
    if (slot === undefined) throw invalidArgValue('name', name, `is not a listener of this takeover (${this.names.join(', ')})`);
    if (slot.descriptor === null) throw invalidState(`listener '${name}' is already served`);
    if (this.state !== 'serving' && this.state !== 'offering') throw invalidState(`the takeover is ${this.state}`);
    const descriptor = slot.descriptor;
    await listen(server, { descriptor, backlog: descriptor.backlog });
    slot.descriptor = null;
    slot.server = server;
    return server;
  }

  /**
   * Says this version serves: the previous one (if any) closes its copies and drains;
   * then this one offers its listeners at `path` for the next version.
   */
  async ready(options?: { signal?: AbortSignal }): Promise<void> {
    const { signal: given } = readOptions(options ?? undefined, 'options', ['signal'], 'an option of ready');
    const signal = checkSignal(given);
    const phase = this.#phase;
    if (phase.state !== 'serving') throw invalidState(`ready() once, after takeover(); the takeover is ${phase.state}`);
    // Aborted already: nothing is offered, first start or not (the signal is not only for the previous version).
    if (signal?.aborted) throw abortError(signal);
    // Made in a directory of our own beside the path (0700, a name nobody can guess), then
    // renamed over the path: no name another user could plant a link at is ever used.
    const privateDir = mkdtempSync(join(dirname(this.path), '.sockctl-takeover-'));
    const temporary = join(privateDir, 'offer.sock');
    let offer;
    try {
      offer = listenUnix(temporary);
    } catch (error) {
      rmdirSync(privateDir);
      throw error;
    }
    let offered: FileIdentity;
    try {
      const previous = phase.previous;
      if (previous !== null) {
        // The previous version gone (it died, or close()d) before or after our ready: its
        // copies went with it and the sockets live on here, so that is done too. A refusal
        // it sent before closing (it gave up waiting) is still read, and thrown.
        const gone = (error: unknown) => ['EPIPE', 'ECONNRESET'].includes((error as SystemError).code ?? '');
        try {
          await sendMessage(previous, { type: 'ready' }, { timeoutMs: this.#settings.timeoutMs, signal });
        } catch (error) {
          if (!gone(error)) throw error;
        }
        try {
          await receiveMessage(previous, 'done', this.path, { timeoutMs: this.#settings.timeoutMs, signal });
        } catch (error) {
          if (!gone(error)) throw error;
        }
        previous.close();
        phase.previous = null;
      }
      // close() came while we waited: nothing is offered.
      if (this.#phase !== phase) throw invalidState(`the takeover was ${this.state} during ready()`);
      const made = lstatSync(temporary);
      renameSync(temporary, this.path); // atomic: a next version finds this one, never no one
      offered = { dev: made.dev, ino: made.ino };
    } catch (error) {
      offer.close();
      try {
        unlinkSync(temporary); // in our own 0700 directory: nobody else's file can be there
      } catch {
        // renamed already, or never made
      }
      rmdirSync(privateDir);
      throw error;
    }
    rmdirSync(privateDir);
    const server = FdChannel.serve(offer, (channel) => void this.#handOver(channel));
    server.on('error', (error) => this.#fail(error));
    server.unref(); // the servers keep the process alive, not the offer
    this.#enter({ state: 'offering', offer: server, offered });
  }

  /** Resolves once a newer version has taken over and this one has drained (drain()'s results, one per server). */
  replaced(options?: { signal?: AbortSignal }): Promise<DrainResult[]> {
    const o = readOptions(options ?? undefined, 'options', ['signal'], 'an option of replaced');
    const signal = checkSignal(o.signal);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const off = onAbort(signal, reject);
      this.#replaced.then(
        (results) => {
          off();
          resolve(results);
        },
        (error: Error) => {
          off();
          reject(error);
        },
      );
    });
  }

  /**
   * Stops offering (the path is removed if it is still this version's) and closes the
   * listeners never served; servers are the caller's. A waiting replaced() rejects.
   */
  close(): void {
    const phase = this.#phase;
    if (phase.state === 'closed') return;
    if (phase.state !== 'replaced') this.#rejectReplaced(invalidState('the takeover was closed before a newer version replaced it'));
    this.#enter({ state: 'closed' });
    if (phase.state === 'serving') phase.previous?.close(); // a ready() waiting on it stops
    if (phase.state === 'handing-over') phase.channel.close(); // the new version is told by EOF; #handOver stops at its next wait
    if (phase.state === 'offering' || phase.state === 'handing-over') {
      phase.offer.close();
      // While handing over the path is still ours (the new version has not said ready); ours only, never what replaced it.
      unlinkOwn(this.path, phase.offered);
    }
    for (const slot of this.#slots.values()) slot.descriptor?.close();
  }

  #enter(next: Phase): void {
    if (!NEXT[this.#phase.state].includes(next.state)) throw new Error(`sockctl internal: takeover from ${this.#phase.state} to ${next.state}`);
    this.#phase = next;
  }

  #fail(error: unknown): void {
    this.failures.push(error as Error);
    if (this.failures.length > 10) this.failures.shift();
  }

  async #refuse(channel: FdChannel, code: string, reason: string): Promise<void> {
    try {
      await sendMessage(channel, { type: 'refused', code, reason }, { timeoutMs: 1000 });
    } catch {
      // it went away: nothing to tell
    } finally {
      channel.close();
    }
  }

  async #handOver(channel: FdChannel): Promise<void> {
    const { timeoutMs, readyTimeoutMs, drainTimeoutMs } = this.#settings;
    try {
      checkPeer(channel, this.path, 'the connecting process');
    } catch (error) {
      this.#fail(error);
      return this.#refuse(channel, 'EPERM', (error as Error).message);
    }
    const offering = this.#phase;
    if (offering.state !== 'offering') return this.#refuse(channel, 'EBUSY', `this version is ${offering.state}: one takeover at a time`);
    const handing: Phase = { state: 'handing-over', offer: offering.offer, offered: offering.offered, channel };
    this.#enter(handing);
    try {
      const { message: hello } = await receiveMessage(channel, 'hello', this.path, { timeoutMs });
      const range = hello.protocol as { min?: unknown; max?: unknown } | undefined;
      const max = Math.min(Number(range?.max), TAKEOVER_PROTOCOL.max);
      if (!(Number.isInteger(max) && max >= Number(range?.min) && max >= TAKEOVER_PROTOCOL.min)) {
        await this.#refuse(channel, 'EPROTO', `protocol ${JSON.stringify(range)} is not one of ${TAKEOVER_PROTOCOL.min}..${TAKEOVER_PROTOCOL.max}`);
        throw errnoException(osConstants.errno.EPROTO, 'takeover', { reason: `a new version spoke protocol ${JSON.stringify(range)}` });
      }
      await sendMessage(channel, { type: 'hello', protocol: max, pid: process.pid }, { timeoutMs });
      const names = [...this.#slots.keys()];
      const fds = names.map((name) => {
        const slot = this.#slots.get(name)!;
        return slot.server !== null ? fdOf(slot.server) : slot.descriptor!.fd;
      });
      await sendMessage(channel, { type: 'listeners', names }, { timeoutMs }, fds);
      await receiveMessage(channel, 'ready', this.path, { timeoutMs: readyTimeoutMs }).catch(async (error: SystemError) => {
        // Our wait ran out (a refusal the peer sent says syscall 'takeover'): tell it why.
        if (error.code === 'ETIMEDOUT' && error.syscall !== 'takeover') await this.#refuse(channel, 'ETIMEDOUT', `not ready within ${readyTimeoutMs} ms`);
        throw error;
      });
      // The new version serves on the same sockets: close this copy (never shutdown) and drain.
      const drains: Promise<DrainResult>[] = [];
      for (const slot of this.#slots.values()) {
        if (slot.server !== null && slot.server.listening) drains.push(drain(slot.server, { timeoutMs: drainTimeoutMs }));
        slot.descriptor?.close();
      }
      this.#enter({ state: 'replaced' });
      handing.offer.close(); // the path is the new version's now: closed, not unlinked
      await sendMessage(channel, { type: 'done' }, { timeoutMs }).catch(() => {});
      channel.close();
      this.#resolveReplaced(await Promise.all(drains));
    } catch (error) {
      channel.close();
      this.#fail(error);
      if (this.#phase === handing) this.#enter(offering); // nothing was closed: serve on
    }
  }
}

/** Receives the running version's listeners over `channel`; on any failure closes what came. */
async function receiveListeners(channel: FdChannel, settings: Settings, signal: AbortSignal | undefined) {
  const { path, timeoutMs } = settings;
  checkPeer(channel, path, 'the running version');
  try {
    await sendMessage(channel, { type: 'hello', protocol: TAKEOVER_PROTOCOL, pid: process.pid }, { timeoutMs, signal });
  } catch (error) {
    // A version that refuses at once (busy, another uid) may have answered and closed before our hello: read why.
    const code = (error as SystemError).code;
    if (code !== 'EPIPE' && code !== 'ECONNRESET') throw error;
    await receiveMessage(channel, 'hello', path, { timeoutMs, signal });
    throw error;
  }
  const { message: hello } = await receiveMessage(channel, 'hello', path, { timeoutMs, signal });
  const { message: listeners, descriptors } = await receiveMessage(channel, 'listeners', path, { timeoutMs, signal });
  try {
    const names = listeners.names;
    if (!Array.isArray(names) || names.length !== descriptors.length || !names.every((n) => typeof n === 'string')) {
      throw errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason: `${descriptors.length} descriptors for the names ${JSON.stringify(names)}` });
    }
    const received = new Map<string, ListeningDescriptor>();
    descriptors.forEach((descriptor, i) => {
      const info = checkListening(descriptor.fd, `the listener '${names[i]}' handed over`);
      received.set(names[i] as string, new ListeningDescriptor(descriptor.release(), addressInfoOf(info), 511));
    });
    return { received, pid: typeof hello.pid === 'number' ? hello.pid : channel.peerCredentials().pid };
  } catch (error) {
    for (const descriptor of descriptors) descriptor.close();
    throw error;
  }
}

/**
 * Takes the listeners over from the version running at `options.path`, or makes them
 * with their options if none runs there (the first start and every restart are one code
 * path). Resolves in state 'serving': serve with `listen(name, server)`, then `ready()`.
 */
export async function takeover(options: TakeoverOptions): Promise<Takeover> {
  const { settings, listeners, signal } = checkOptions(options);
  if (signal?.aborted) throw abortError(signal);
  const channel = connectToRunning(settings.path);
  const slots = new Map<string, Slot>();
  let inherited: string[] = [];
  let previousPid: number | null = null;
  try {
    if (channel !== null) {
      const { received, pid } = await receiveListeners(channel, settings, signal);
      previousPid = pid;
      for (const [name, descriptor] of received) {
        if (listeners.has(name)) slots.set(name, { descriptor, server: null });
        else descriptor.close(); // this version no longer wants it
      }
      inherited = [...slots.keys()];
    }
    for (const [name, listenOptions] of listeners) {
      if (!slots.has(name)) slots.set(name, { descriptor: await createListener(listenOptions), server: null });
    }
  } catch (error) {
    channel?.close();
    for (const slot of slots.values()) slot.descriptor?.close();
    throw error;
  }
  // In the options' order.
  const ordered = new Map([...listeners.keys()].map((name) => [name, slots.get(name)!]));
  return new Takeover(MAKE, settings, ordered, channel, inherited, previousPid);
}

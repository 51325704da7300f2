// The supervisor's side of --keep-connections: a UNIX socket in its private 0700 directory
// (SOCKCTL_KEEP_CONNECTIONS in each worker's environment), where each worker keeps one
// FdChannel. A worker says which ports it takes connections of ('adopt'); a draining
// worker sends each idle connection ('conn', with the descriptor), which goes to a worker
// of the newest generation that takes that port, and the sender is answered 'kept' or,
// when nobody took it within ADOPTER_WAIT_MS, 'back' (it drains it itself).
//
// Only our workers and their descendants may connect (SO_PEERCRED, as the notify receiver
// checks). One message per channel at a time: a slow adopter slows its sender (the
// kernel's socket buffers are the queue), nothing is dropped.
import { unlinkSync } from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import type { OwnedDescriptor } from '../core/descriptor';
import { INT32_MAX } from '../core/validate';
import { connectionMessage, readConnectionMessage } from '../handover/connection';
import { FdChannel, listenUnix } from '../handover/scm-rights';

/** How long a connection waits for a worker of the new generation to take its port. */
const ADOPTER_WAIT_MS = 2000;
const RETRY_MS = 20;
const MAX_PORTS = 64;

export interface RelayPeer<W> {
  worker: W;
  channel: FdChannel;
  ports: Set<number>;
}

export class ConnectionRelay<W> {
  readonly address: string;
  readonly #server: net.Server;
  readonly #peers = new Set<RelayPeer<W>>();
  readonly #workerOf: (pid: number) => W | null;
  readonly #adopters: () => readonly W[];
  readonly #log: (line: string) => void;
  #turn = 0;
  #closed = false;
  // When a connection last waited ADOPTER_WAIT_MS in vain. Within that long after, the next
  // ones do not wait again: while the new generation is down (a crash loop's backoff),
  // each would otherwise wait in turn, and a drain of N connections take N times as long.
  #gaveUpAt = -Infinity;
  /** Connections handed to another worker, and those sent back to their worker. */
  kept = 0;
  returned = 0;

  /**
   * `workerOf(pid)`: the worker a connecting pid is or descends from (null: refused).
   * `adopters()`: the workers that may take connections now (the newest generation's).
   */
  constructor(directory: string, workerOf: (pid: number) => W | null, adopters: () => readonly W[], log: (line: string) => void) {
    this.address = join(directory, 'connections');
    this.#workerOf = workerOf;
    this.#adopters = adopters;
    this.#log = log;
    this.#server = FdChannel.serve(listenUnix(this.address, 128), (channel) => this.#accept(channel));
  }

  #accept(channel: FdChannel): void {
    let worker: W | null = null;
    try {
      worker = this.#workerOf(channel.peerCredentials().pid);
    } catch {
      worker = null;
    }
    if (worker === null || this.#closed) {
      if (!this.#closed) this.#log('keep-connections: a process that is not a worker connected to the relay; refused');
      channel.close();
      return;
    }
    const peer: RelayPeer<W> = { worker, channel, ports: new Set() };
    this.#peers.add(peer);
    void this.#serve(peer).finally(() => {
      this.#peers.delete(peer);
      peer.channel.close();
    });
  }

  async #serve(peer: RelayPeer<W>): Promise<void> {
    while (!this.#closed) {
      let got;
      try {
        got = await peer.channel.receive({ timeoutMs: INT32_MAX, maxDescriptors: 1 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ETIMEDOUT') continue;
        return; // the worker exited (EPIPE) or broke the framing (EPROTO)
      }
      if (got.descriptors.length === 0) {
        if (this.#adopt(peer, got.message)) continue;
        this.#log('keep-connections: a worker sent what is not an adopt message; its channel is closed');
        return;
      }
      let message;
      try {
        message = readConnectionMessage(got.message, got.descriptors);
      } catch {
        this.#log('keep-connections: a worker sent what is not a connection; its channel is closed');
        return;
      }
      const { id, port } = message.fields;
      if (!Number.isSafeInteger(id) || !Number.isInteger(port)) {
        message.descriptor.close();
        return;
      }
      const kept = await this.#pass(peer, port as number, message.descriptor);
      await peer.channel.send(JSON.stringify({ t: kept ? 'kept' : 'back', id })).catch(() => undefined);
    }
  }

  /** 'adopt': the ports a worker takes connections of. False for anything else (the channel is closed). */
  #adopt(peer: RelayPeer<W>, message: Buffer): boolean {
    let fields: { t?: unknown; ports?: unknown };
    try {
      fields = JSON.parse(message.toString('utf8'));
    } catch {
      return false;
    }
    const { ports } = fields;
    if (fields.t !== 'adopt' || !Array.isArray(ports) || ports.length > MAX_PORTS) return false;
    if (!ports.every((p) => Number.isInteger(p) && p > 0 && p <= 65535)) return false;
    peer.ports = new Set(ports as number[]);
    return true;
  }

  /** Sends the connection to an adopter of `port` (not its sender); our copy is closed either way. */
  async #pass(from: RelayPeer<W>, port: number, descriptor: OwnedDescriptor): Promise<boolean> {
    const deadline = Date.now() - this.#gaveUpAt < ADOPTER_WAIT_MS ? 0 : Date.now() + ADOPTER_WAIT_MS;
    try {
      while (!this.#closed) {
        const adopters = new Set(this.#adopters());
        const candidates = [...this.#peers].filter((p) => p !== from && p.worker !== from.worker && adopters.has(p.worker) && p.ports.has(port));
        for (let i = 0; i < candidates.length; i++) {
          const to = candidates[(this.#turn + i) % candidates.length]!;
          try {
            await to.channel.send(connectionMessage({ t: 'conn', port }), [descriptor]);
            this.#turn++;
            this.kept++;
            return true;
          } catch {
            // That worker is gone: the next one.
          }
        }
        if (adopters.size === 0 || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
      this.returned++;
      this.#gaveUpAt = Date.now();
      return false;
    } finally {
      descriptor.close();
    }
  }

  /** Stops relaying: every channel closed (a worker's pending moves come back to it), the socket file removed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const peer of this.#peers) peer.channel.close();
    try {
      unlinkSync(this.address);
    } catch {
      // Already gone.
    }
  }
}

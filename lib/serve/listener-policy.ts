// Which sockets the supervisor's worker slots serve on: one policy per listener mode.
// - shared: one socket per --listen; every worker of every generation gets the same ones
//   (one accept queue);
// - kept (--reuse-port): worker slot i has its own SO_REUSEPORT socket per --listen, and
//   the next generation's worker i gets slot i's sockets: nothing is reset;
// - recreated (--reuse-port --recreate-listeners): each generation gets new sockets and
//   the old ones close with the old generation (what nginx does; the bench shows the old
//   queues reset unless net.ipv4.tcp_migrate_req=1).
// The per-worker policies keep each group's order as the kernel keeps it (GroupOrder): the
// supervisor's scale steps steer new connections by it.
import type { ListeningDescriptor } from '../listen/listener';
import { getOption } from '../core/options';
import { sockctlError } from '../core/errors';
import { openListener, refuseForeignGroup, removeUnixPath, type ListenSpec } from './listeners';
import { GroupOrder } from './steering';

export abstract class ListenerPolicy {
  /** Per --listen, the group's order as the kernel keeps it (per-worker policies). */
  readonly groups: GroupOrder<ListeningDescriptor>[];
  protected readonly listen: readonly ListenSpec[];
  readonly #ports: number[];

  constructor(listen: readonly ListenSpec[]) {
    this.listen = listen;
    this.#ports = listen.map((spec) => (spec.kind === 'tcp' || spec.kind === 'udp' ? spec.port : 0));
    this.groups = listen.map(() => new GroupOrder<ListeningDescriptor>());
  }

  /** True where each slot has sockets of its own (SO_REUSEPORT groups, which scaling steers). */
  abstract readonly perWorker: boolean;

  /** The sockets of slot `index` in a new generation; `serving`: the serving generation's slots (none at the first start). */
  abstract forSlot(index: number, serving: readonly ListeningDescriptor[][] | undefined): Promise<ListeningDescriptor[]>;

  /** The sockets of one slot more (scale up). */
  abstract forNewSlot(serving: readonly ListeningDescriptor[][]): Promise<ListeningDescriptor[]>;

  /** A retired generation's workers have all exited: what was its own is closed; the connections those sockets still queued (lost). */
  retired(_slots: readonly ListeningDescriptor[][]): number {
    return 0;
  }

  /** The sockets, in --listen order, for the supervisor that replaces this one. */
  abstract handOver(serving: readonly ListeningDescriptor[][]): readonly ListeningDescriptor[];

  get ports(): readonly number[] {
    return this.#ports;
  }

  /** One listener per --listen: with `reusePort`, members of the groups. */
  protected async make(reusePort: boolean): Promise<ListeningDescriptor[]> {
    const made: ListeningDescriptor[] = [];
    try {
      for (const [i, spec] of this.listen.entries()) {
        // A fixed port's group must be ours alone (orphans of a killed supervisor would join it).
        if (reusePort && spec.kind === 'tcp' && this.groups[i]!.members.length === 0) await refuseForeignGroup(spec);
        // Port 0 is chosen by the kernel once; the group's next members bind the same one.
        const listener = await openListener(spec, this.#ports[i]!, reusePort);
        this.#ports[i] = listener.address.port;
        made.push(listener);
        this.groups[i]!.join(listener);
      }
    } catch (error) {
      this.close(made);
      throw error;
    }
    return made;
  }

  /** Our copies closed, and their place in the groups given up (the kernel's, once every copy is). */
  close(listeners: readonly ListeningDescriptor[]): void {
    for (const [i, listener] of listeners.entries()) {
      listener.close();
      this.groups[i]?.leave(listener);
    }
  }

  /** Every socket still held (stop, or a first generation that failed); our UNIX socket files removed unless handed over. */
  closeAll(handedOver = false): void {
    for (const [i, group] of this.groups.entries()) {
      const spec = this.listen[i]!;
      for (const listener of group.members) {
        if (spec.kind === 'unix' && !handedOver) removeUnixPath(spec.path, listener);
        listener.close();
      }
    }
  }
}

class SharedListeners extends ListenerPolicy {
  readonly perWorker = false;
  #shared: ListeningDescriptor[] | undefined;

  // Made once, at the first generation (the supervisor asks one slot at a time).
  async forSlot(): Promise<ListeningDescriptor[]> {
    this.#shared ??= await this.make(false);
    return this.#shared;
  }

  forNewSlot(): Promise<ListeningDescriptor[]> {
    return this.forSlot();
  }

  handOver(serving: readonly ListeningDescriptor[][]): readonly ListeningDescriptor[] {
    return serving[0] ?? [];
  }
}

class KeptListeners extends ListenerPolicy {
  readonly perWorker = true;

  forSlot(index: number, serving: readonly ListeningDescriptor[][] | undefined): Promise<ListeningDescriptor[]> {
    const kept = serving?.[index];
    return kept === undefined ? this.make(true) : Promise.resolve(kept);
  }

  forNewSlot(): Promise<ListeningDescriptor[]> {
    return this.make(true);
  }

  handOver(): readonly ListeningDescriptor[] {
    throw sockctlError('ERR_SOCKCTL_REPLACE_UNSUPPORTED', '--reuse-port listeners are one per worker: replacing the supervisor is not supported with them yet');
  }
}

class RecreatedListeners extends KeptListeners {
  override forSlot(): Promise<ListeningDescriptor[]> {
    return this.make(true);
  }

  override retired(slots: readonly ListeningDescriptor[][]): number {
    // Read right before the close: what the close resets (a lower bound: more may come).
    let queued = 0;
    for (const listeners of slots) {
      for (const [j, listener] of listeners.entries()) {
        if (this.listen[j]!.kind === 'tcp' && !listener.closed) queued += getOption(listener, 'TCP_INFO').unacked ?? 0;
      }
      this.close(listeners);
    }
    return queued;
  }
}

/** The policy of a supervisor's `reusePort` option. */
export function listenerPolicy(listen: readonly ListenSpec[], reusePort: false | 'keep' | 'recreate'): ListenerPolicy {
  if (reusePort === 'keep') return new KeptListeners(listen);
  if (reusePort === 'recreate') return new RecreatedListeners(listen);
  return new SharedListeners(listen);
}

// Replacing the supervisor itself (SIGUSR2, as nginx and einhorn do): the running sockctl
// starts a new one with the same command line (so a newly installed sockctl or Node is
// picked up) and SOCKCTL_UPGRADE naming a UNIX socket in a private 0700 directory. Over
// it (FdChannel, SCM_RIGHTS) the old one hands over its listening sockets and its control
// socket; the new one starts its own generation on them and says ready; only then does
// the old one stop its workers (they drain) and exit. The sockets never close, so nothing
// queued is lost. A new supervisor that exits, or is not ready in time, leaves the old one
// serving. The new one is not given the old one's PDEATHSIG: it must outlive it.
//
//   old → new  listeners { names, control } + descriptors      new → old  ready
//   old        MAINPID=<new>, BARRIER=1 to its manager, then closes the channel
//
// The new one speaks to the manager only once the channel closes: systemd with
// NotifyAccess=main drops what a pid that is not yet the main one says (its READY=1 too).
import { mkdtempSync, rmdirSync, unlinkSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { addressInfoOf, checkListening } from '../core/describe';
import { errnoException, sockctlError } from '../core/errors';
import { FdChannel, listenUnix } from '../handover/scm-rights';
import { ListeningDescriptor } from '../listen/listener';
import { systemProcesses, type ChildProcessLike, type Processes } from './processes';

export const UPGRADE_VARIABLE = 'SOCKCTL_UPGRADE';

const STEP_MS = 10_000;

function parse(message: Buffer): Record<string, unknown> {
  try {
    const value = JSON.parse(message.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // below
  }
  throw errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason: 'an upgrade message that is not a JSON object' });
}

export interface UpgradeOffer {
  /** Names (the --listen specs' order) and their sockets, then the control socket if any. */
  names: readonly string[];
  listeners: readonly ListeningDescriptor[];
  control: ListeningDescriptor | null;
  /** What starts the new supervisor: the same node and script, the same arguments. */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  readyTimeoutMs: number;
  /** How it is started and signalled (the system's unless a test's). */
  processes?: Processes;
  /** The bound of each step but the ready wait: connect, send (default 10 s). */
  stepMs?: number;
}

/**
 * Starts the new supervisor and hands it the sockets; resolves with its pid once it says
 * ready, rejects if it fails first. The caller then tells its manager MAINPID=, calls
 * `release()` (the new one may speak to the manager from then on), retires its workers and exits.
 */
export async function offerUpgrade(offer: UpgradeOffer): Promise<{ pid: number; child: ChildProcessLike; release: () => void }> {
  const processes = offer.processes ?? systemProcesses;
  const stepMs = offer.stepMs ?? STEP_MS;
  const dir = mkdtempSync(join(tmpdir(), 'sockctl-upgrade-'));
  const path = join(dir, 'upgrade.sock');
  let server: net.Server | undefined;
  let child: ChildProcessLike | undefined;
  let ended = false;
  try {
    const taken = new Promise<FdChannel>((resolve, reject) => {
      server = FdChannel.serve(listenUnix(path), (incoming) => {
        // Only the child we started (the path is in a 0700 directory: our uid and root).
        if (incoming.peerCredentials().pid !== child?.pid) return incoming.close();
        resolve(incoming);
      });
      server.on('error', reject);
    });
    const env: NodeJS.ProcessEnv = { ...offer.env, [UPGRADE_VARIABLE]: path };
    delete env.WATCHDOG_PID; // the manager's watchdog follows MAINPID from now on
    child = processes.spawn(offer.argv[0]!, offer.argv.slice(1), { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const exited = new Promise<never>((_, reject) => {
      child!.once('error', (error) => {
        ended = true;
        reject(error);
      });
      child!.once('exit', (code, signal) => {
        ended = true;
        reject(sockctlError('ERR_SOCKCTL_REPLACE_FAILED', `the new supervisor (pid ${child!.pid}) ${signal === null ? `exited with code ${code}` : `was killed by ${signal}`} before it was ready`));
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = (what: string, ms: number) =>
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(sockctlError('ERR_SOCKCTL_REPLACE_FAILED', `the new supervisor (pid ${child!.pid}) ${what} within ${ms} ms`)), ms);
      });
    let channel: FdChannel | undefined;
    try {
      channel = await Promise.race([taken, exited, late('did not connect', stepMs)]);
      clearTimeout(timer);
      const fds = [...offer.listeners.map((l) => l.fd), ...(offer.control === null ? [] : [offer.control.fd])];
      await channel.send(JSON.stringify({ type: 'listeners', names: offer.names, control: offer.control !== null }), fds, { timeoutMs: stepMs });
      const ready = parse((await Promise.race([channel.receive({ timeoutMs: offer.readyTimeoutMs + stepMs }), exited])).message);
      if (ready.type !== 'ready') throw sockctlError('ERR_SOCKCTL_REPLACE_FAILED', `the new supervisor (pid ${child.pid}) failed: ${String(ready.reason ?? ready.type)}`);
      exited.catch(() => {}); // from here on its exit is its own affair
      // Closing the channel tells the new one it is the main process (after MAINPID=).
      return { pid: child.pid!, child, release: () => channel!.close() };
    } catch (error) {
      channel?.close();
      if (!ended && child.pid !== undefined) {
        try {
          processes.kill(child.pid, 'SIGTERM');
        } catch {
          // ESRCH: it has just exited
        }
      }
      exited.catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    server?.close();
    for (const remove of [() => unlinkSync(path), () => rmdirSync(dir)]) {
      try {
        remove();
      } catch {
        // not made, or gone: the offer's outcome does not depend on it
      }
    }
  }
}

export interface TakenOver {
  /** The old supervisor's sockets, in its --listen order. */
  listeners: ListeningDescriptor[];
  control: ListeningDescriptor | null;
  /** Tells the old supervisor this one serves (it then retires its workers and exits), or why not. */
  ready(): Promise<void>;
  fail(reason: string): Promise<void>;
  /**
   * After ready(): resolves when the old supervisor closes the channel, once its manager
   * knows this pid as the main one (or it died, or STEP_MS twice passed); never rejects.
   */
  released(): Promise<void>;
}

/** In the new supervisor: the old one's sockets, from the path in SOCKCTL_UPGRADE. */
export async function takeUpgrade(path: string): Promise<TakenOver> {
  const channel = FdChannel.connect(path);
  const { message, descriptors } = await channel.receive({ timeoutMs: STEP_MS });
  try {
    const offer = parse(message);
    const names = offer.names;
    const count = Array.isArray(names) ? names.length + (offer.control === true ? 1 : 0) : -1;
    if (offer.type !== 'listeners' || !Array.isArray(names) || !names.every((n) => typeof n === 'string') || count !== descriptors.length) {
      throw errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason: `${descriptors.length} descriptors for the offer ${JSON.stringify(offer).slice(0, 120)}` });
    }
    const adopt = (index: number, what: string): ListeningDescriptor => {
      const info = checkListening(descriptors[index]!.fd, what);
      return new ListeningDescriptor(descriptors[index]!.release(), addressInfoOf(info), 511);
    };
    const listeners = (names as string[]).map((name, i) => adopt(i, `the listener '${name}' handed over`));
    const control = offer.control === true ? adopt(names.length, 'the control socket handed over') : null;
    const released = async (): Promise<void> => {
      // Nothing more is sent this way: a message (its descriptors closed) or the end (EPIPE) mean the same.
      const stray = await channel.receive({ timeoutMs: 2 * STEP_MS }).catch(() => null);
      for (const descriptor of stray?.descriptors ?? []) descriptor.close();
      channel.close();
    };
    const send = (body: object): Promise<void> => channel.send(JSON.stringify(body), [], { timeoutMs: STEP_MS });
    const ready = (): Promise<void> =>
      send({ type: 'ready' }).catch((error: unknown) => {
        channel.close();
        throw error;
      });
    const fail = (reason: string): Promise<void> => send({ type: 'failed', reason }).finally(() => channel.close());
    return { listeners, control, ready, fail, released };
  } catch (error) {
    for (const descriptor of descriptors) descriptor.close();
    channel.close();
    throw error;
  }
}

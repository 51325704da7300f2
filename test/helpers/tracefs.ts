// Whether this process can use the sock:inet_sock_set_state tracepoint (root, tracefs
// mounted: .ci/run mounts it), and this process's tracefs instances, for leak checks.
import { readdirSync } from 'node:fs';
import { watchStates } from '../../lib/index';

function probe(): { ok: boolean; reason: string } {
  try {
    watchStates({ port: 1 }, { source: 'tracepoint' }).close();
    return { ok: true, reason: '' };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

const probed = process.platform === 'linux' ? probe() : { ok: false, reason: 'Linux only' };
/** True where the tracepoint serves this process. */
export const tracing = probed.ok;
/** Why it does not, for skip messages. */
export const noTracingReason = probed.reason;

/** This process's sockctl instances under tracefs (none once every watch is closed). */
export function ownInstances(): string[] {
  for (const root of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    try {
      return readdirSync(`${root}/instances`).filter((name) => name.startsWith(`sockctl-${process.pid}-`));
    } catch {
      // not there
    }
  }
  return [];
}

// The lab's lost-segment scenarios: each variant runs in a network namespace of its own,
// made by unshare for the agent (lib/lab/loss/agent.ts): Node cannot unshare itself (it is
// multi-threaded), so a child makes the namespace. As root: `unshare -n`. Otherwise a user
// namespace where the kernel allows it: `unshare -Un --map-current-user --keep-caps` (tcpdump
// refuses to drop privileges with -Urn: setgroups is denied). Neither: skipped, with the reason.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildSequence, type Sequence } from './sequence';
import type { AgentReport } from './agent';

export const LOSS_SCENARIOS = {
  'lost-final-ack': {
    title: "the active closer's last ACK is lost: why TIME_WAIT exists",
    variants: {
      'time-wait': 'LAST_ACK retransmits its FIN until the ACKs get through; only TIME_WAIT can answer it',
      'linger-0': 'the active closer left with SO_LINGER 0 (RST, no TIME_WAIT): the retransmitted FIN meets a RST',
    },
  },
  'syn-retransmit': {
    title: 'every SYN dropped: SYN_SENT retransmits until ETIMEDOUT; TCP_SYNCNT=2 bounds the time (7 s)',
    variants: {
      'linear-4': 'net.ipv4.tcp_syn_linear_timeouts=4: the first 4 retries 1 s apart, then doubling',
      'linear-0': 'net.ipv4.tcp_syn_linear_timeouts=0: exponential from the start (1, 2 s)',
    },
  },
  'time-wait-assassination': {
    title: "a RST kills TIME_WAIT early (RFC 1337) unless tcp_rfc1337=1",
    variants: {
      'rfc1337-0': 'tcp_rfc1337=0: the RST to the TIME_WAIT\'s ACK ends it; the next SYN is refused',
      'rfc1337-1': 'tcp_rfc1337=1: TIME_WAIT ignores the RST and stays; the connect times out',
    },
  },
} as const;

export type LossScenario = keyof typeof LOSS_SCENARIOS;

export const lossScenarioNames = (): LossScenario[] => Object.keys(LOSS_SCENARIOS) as LossScenario[];

export interface LossRun {
  sequence: Sequence;
  title: string;
}

export interface LossLabReport {
  scenario: LossScenario;
  title: string;
  /** How the namespace was made. */
  namespace: string;
  runs: LossRun[];
}

const AGENT = join(__dirname, 'agent.js');
const LO_UP = 'ip link set lo up && exec "$0" "$@"';

function found(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** How to make the namespace here, or why it cannot be made. */
export function namespaceMethod(): { prefix: string[]; how: string } | { skip: string } {
  if (process.platform !== 'linux') return { skip: `network namespaces are Linux only, not ${process.platform}` };
  const missing = ['unshare', 'nft', 'tcpdump', 'ip'].filter((c) => !found(c));
  if (missing.length > 0) return { skip: `missing ${missing.join(', ')} (Debian: util-linux, nftables, tcpdump, iproute2)` };
  if (process.geteuid?.() === 0) return { prefix: ['unshare', '-n'], how: 'unshare -n (root)' };
  const prefix = ['unshare', '-Un', '--map-current-user', '--keep-caps'];
  try {
    execFileSync(prefix[0]!, [...prefix.slice(1), 'sh', '-c', 'ip link set lo up && nft list tables'], { stdio: 'pipe', timeout: 5000 });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    return { skip: `not root, and no user namespace here for nft and tcpdump (${prefix.join(' ')}: ${stderr || (error as Error).message})` };
  }
  return { prefix, how: `${prefix.join(' ')} (a user namespace)` };
}

function runAgent(prefix: string[], scenario: string, variant: string, timeoutMs: number): Promise<AgentReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(prefix[0]!, [...prefix.slice(1), 'sh', '-c', LO_UP, process.execPath, AGENT, scenario, variant], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      let parsed: (AgentReport & { failed?: string }) | undefined;
      try {
        parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '') as AgentReport & { failed?: string };
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || parsed.failed !== undefined || code !== 0) {
        reject(new Error(`lab ${scenario} ${variant}: ${parsed?.failed ?? `exit ${code ?? signal}`} ${stderr.trim()}`.trim()));
      } else {
        resolve(parsed);
      }
    });
  });
}

/** Runs every variant of `scenario`, each in its own namespace, at the same time (each under 15 s). */
export async function runLossScenario(scenario: LossScenario): Promise<LossLabReport> {
  const method = namespaceMethod();
  if ('skip' in method) throw Object.assign(new Error(`sockctl lab --sequence: skipped: ${method.skip}`), { code: 'ENOTSUP', skipped: method.skip });
  const { title, variants } = LOSS_SCENARIOS[scenario];
  const runs = await Promise.all(
    Object.entries(variants).map(async ([variant, variantTitle]) => ({
      sequence: buildSequence(await runAgent(method.prefix, scenario, variant, 15_000)),
      title: variantTitle as string,
    })),
  );
  return { scenario, title, namespace: method.how, runs };
}

// `sockctl reload --control PATH` and `sockctl status --control PATH`: the client side of
// `sockctl serve --control PATH` (lib/serve/control.ts). reload waits for the reload's end
// and prints its receipt; exit 0 when the new generation is ready and the old one retired,
// 1 when it failed (the old generation keeps serving), 2 on a usage error or no answer.
import { parseArgs } from 'node:util';
import { controlRequest } from '../serve/control';
import type { ReloadReceipt, ServeStatus } from '../serve/supervisor';
import { integer, UsageError } from './usage';

const RELOAD_HELP = `Usage: sockctl reload --control PATH [--timeout MS]

Asks the sockctl serve listening at PATH for a reload and waits for its end; prints its
receipt as JSON: ok, generation, pids, readyMs, drainMs, lost { queued, listenDrops },
connections { kept, returned } (with --keep-connections, else null), and error when it failed. Exit 0: the new generation is ready and the old one retired;
1: it failed, and the old generation keeps serving; 2: no answer, or a usage error.
A reload asked for while one runs joins the next one, and gets that one's receipt.
  --timeout MS   how long to wait for the answer (default 120000)
`;

const STATUS_HELP = `Usage: sockctl status --control PATH [--json]

The generation, its workers (pid, ready since, restarts), the generations still
draining, and the listeners (name, address, inode, Recv-Q: the accept queue now).
`;

function parse(args: string[], extra: Record<string, { type: 'string' | 'boolean' }>) {
  const { values } = parseArgs({ args, options: { control: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...extra }, strict: true, allowPositionals: false });
  if (values.help) return null;
  if (typeof values.control !== 'string') throw new UsageError('--control PATH is needed');
  return values as Record<string, string | boolean | undefined> & { control: string };
}

async function run(
  name: string,
  args: string[],
  help: string,
  extra: Record<string, { type: 'string' | 'boolean' }>,
  act: (values: Record<string, string | boolean | undefined> & { control: string }) => Promise<number>,
): Promise<number> {
  let values;
  try {
    values = parse(args, extra);
  } catch (error) {
    process.stderr.write(`sockctl ${name}: ${(error as Error).message}\nsee sockctl ${name} --help\n`);
    return 2;
  }
  if (values === null) {
    process.stdout.write(help);
    return 0;
  }
  try {
    return await act(values);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sockctl ${name}: ${error.message}\nsee sockctl ${name} --help\n`);
      return 2;
    }
    process.stderr.write(`sockctl ${name}: ${(error as Error).message}\n`);
    return 2;
  }
}

export function runReload(args: string[]): Promise<number> {
  return run('reload', args, RELOAD_HELP, { timeout: { type: 'string' } }, async (values) => {
    const timeoutMs = integer(values.timeout as string | undefined, 'timeout', 1, 2 ** 31 - 1) ?? 120_000;
    const answer = await controlRequest(values.control, { command: 'reload' }, timeoutMs);
    if (typeof answer.error === 'string' && answer.ok === undefined) throw new Error(answer.error);
    const receipt = answer as unknown as ReloadReceipt;
    process.stdout.write(`${JSON.stringify(receipt)}\n`);
    if (!receipt.ok) process.stderr.write(`sockctl reload: failed: ${receipt.error}\n`);
    return receipt.ok ? 0 : 1;
  });
}

export function runStatus(args: string[]): Promise<number> {
  return run('status', args, STATUS_HELP, { json: { type: 'boolean' } }, async (values) => {
    const answer = await controlRequest(values.control, { command: 'status' }, 10_000);
    if (typeof answer.error === 'string') throw new Error(answer.error);
    const status = answer as unknown as ServeStatus;
    if (values.json) {
      process.stdout.write(`${JSON.stringify(status)}\n`);
      return 0;
    }
    const lines = [`pid ${status.pid}, generation ${status.generation}${status.draining.length > 0 ? `, draining: ${status.draining.join(' ')}` : ''}`];
    for (const w of status.workers) lines.push(`  worker ${w.index}  pid ${w.pid}  generation ${w.generation}  ready since ${w.readySince ?? '-'}  restarts ${w.restarts}`);
    for (const l of status.listeners) lines.push(`  listener ${l.name}  ${l.address}${l.port ? `:${l.port}` : ''}  inode ${l.inode}  Recv-Q ${l.recvQ ?? '-'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  });
}

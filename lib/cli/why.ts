// `sockctl why [HOST:]PORT`: could a listener bind there now, and if not, every cause with
// its evidence (the sockets, as `ss -tanpe` lists them) and its fix (whyInUse).
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { integer, UsageError } from './usage';
import { printable, toJson } from './states';
import { describeSocket } from '../why/causes';
import { whyInUse, type WhyInUseResult } from '../why/why';
import { formatEndpoint } from '../states/address';

const HELP = `Usage: sockctl why [HOST:]PORT [options]

Says whether a listener could bind HOST:PORT now and, if not, why: a probe socket with
the options below is bound for real (never listens) and closed, the four SO_REUSEADDR /
SO_REUSEPORT combinations are tried the same way, and the sockets on the port come from
NETLINK_SOCK_DIAG (bound-but-inactive ones too, Linux >= 6.8), with their processes.
HOST defaults to :: (dual-stack, as Node's listen); [::1]:PORT for an IPv6 literal.

Options:
  --no-reuse-addr   the listener would not set SO_REUSEADDR (Node sets it by default)
  --reuse-port      the listener would set SO_REUSEPORT
  --ipv6-only       the listener would set IPV6_V6ONLY
  --json            print whyInUse()'s result as JSON
  -h, --help        this text

Exit status: 0 it could bind now, 1 it could not, 2 on a usage or system error.

Examples:
  sockctl why 8080
  sockctl why 127.0.0.1:8080 --json
`;

/** [HOST:]PORT, [IPV6]:PORT. */
export function parseTarget(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`'${text}' is not [HOST:]PORT`);
  const host = m[1] ?? m[2];
  if (m[1] !== undefined && isIP(m[1]) !== 6) throw new UsageError(`'${m[1]}' is not an IPv6 address`);
  return { host, port: integer(m[3], 'port', 1, 65535)! };
}

function yesNo(value: boolean): string {
  return value ? 'binds' : 'fails';
}

export function formatWhy(r: WhyInUseResult): string {
  const where = formatEndpoint(r.address, r.port);
  const asked = [`SO_REUSEADDR ${r.reuseAddr ? 'on' : 'off'}`, `SO_REUSEPORT ${r.reusePort ? 'on' : 'off'}`];
  if (r.family === 'ipv6') asked.push(`IPV6_V6ONLY ${r.ipv6Only ? 'on' : 'off'}`);
  const lines = [`${where} (${asked.join(', ')}): ${r.canBind ? 'a listener could bind now' : `bind fails now with ${r.error!.code}`}`];
  const m = r.wouldBind;
  lines.push(`  with neither: ${yesNo(m.none)}; SO_REUSEADDR: ${yesNo(m.reuseAddr)}; SO_REUSEPORT: ${yesNo(m.reusePort)}; both: ${yesNo(m.both)}`);
  r.causes.forEach((cause, i) => {
    lines.push('', `${i + 1}. ${cause.kind}: ${printable(cause.summary)}`);
    for (const s of cause.sockets.slice(0, 10)) lines.push(`     ${printable(describeSocket(s))}`);
    if (cause.sockets.length > 10) lines.push(`     ... and ${cause.sockets.length - 10} more`);
    lines.push(`   fix: ${cause.fix}`);
  });
  if (r.canBind && r.sockets.length > 0) {
    lines.push('', `${r.sockets.length} socket(s) on the port that do not block these options:`);
    for (const s of r.sockets.slice(0, 10)) lines.push(`     ${printable(describeSocket(s))}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runWhy(args: string[]): Promise<number> {
  let target: { host: string | undefined; port: number };
  let values;
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'no-reuse-addr': { type: 'boolean' },
        'reuse-port': { type: 'boolean' },
        'ipv6-only': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values;
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new UsageError('one [HOST:]PORT is needed');
    target = parseTarget(parsed.positionals[0]!);
  } catch (error) {
    process.stderr.write(`sockctl why: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  let result: WhyInUseResult;
  try {
    result = await whyInUse({
      ...target,
      reuseAddr: values['no-reuse-addr'] !== true,
      reusePort: values['reuse-port'] === true,
      ipv6Only: values['ipv6-only'] === true,
    });
  } catch (error) {
    process.stderr.write(`sockctl why: ${(error as Error).message}\n`);
    return 2;
  }
  process.stdout.write(values.json ? `${toJson(result, 2)}\n` : formatWhy(result));
  return result.canBind ? 0 : 1;
}

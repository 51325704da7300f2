// `sockctl states`: the TCP sockets of a port and their states, in-process (sock_diag, or
// /proc/net/tcp when netlink is refused): what `netstat -anp | grep PORT` and `ss -tanp`
// show, without net-tools. `--watch` prints every state change (watchStates).
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { integer, UsageError } from './usage';
import { tcpStates } from '../states/list';
import { destroySocket } from '../states/destroy';
import { unixSockets, type UnixSocketRow } from '../states/unix';
import { changeToJson, watchStates, type WatchSource } from '../states/watch';
import { formatEndpoint } from '../states/address';
import { TCP_STATES, type TcpStatesFilter, type TcpStatesSource } from '../states/filter';
import type { SocketMemory, TcpStateRow, TcpStateRowWithProcess } from '../states/row';
import type { SocketFamily } from '../core/socket';
import type { TcpState } from '../core/tcp-states';

const HELP = `Usage: sockctl states [options]

Lists the TCP sockets of this host with their state, queues, timer and owner, as
\`ss -tanoe\` and \`netstat -tanp\` do, read in-process from NETLINK_SOCK_DIAG (filters run
in the kernel), or from /proc/net/tcp when netlink is refused.

Options:
  --port N           sockets with N as local or remote port
  --state S[,S...]   only these states: ${TCP_STATES.join(' ')}
                     (any case; ss's spellings such as time-wait or estab work too)
  --family F         ipv4 or ipv6
  -p, --process      show the processes holding each socket (pid/command), as ss -p
  -u, --udp          UDP sockets instead, as ss -uan (UNCONN: not connected)
  -x, --unix         UNIX sockets instead, as ss -xa: type, state, name ('@' for an
                     abstract one), inode and the peer's inode (--json with it too)
  -i, --info         each socket's TCP_INFO and congestion control under it, as ss -ti
                     (any socket of the namespace, no privilege needed)
  -m, --memory       each socket's memory under it, as ss -m (skmem:...)
  -B, --bound-inactive
                     sockets bound to a port that neither listen nor connect, as
                     ss -B (state CLOSED; Linux 6.8 and later list them), beside
                     the --state given, if any: a cause of many EADDRINUSE
  -K, --kill         destroy the sockets listed (SOCK_DESTROY, as ss -K: the peer gets
                     a reset; needs CAP_NET_ADMIN, else EPERM and exit 2); needs --port;
                     more than one socket: asks on a terminal, else only with --yes
  -y, --yes          with --kill: destroy every socket listed without asking
  --json             print JSON: an array of rows; with --watch, one change per line
                     (TcpStateChangeJson: time, from, to, durationMs, cookie, via, row)
  --watch            print the sockets there now, then every state change with the
                     milliseconds spent in the state left ('-' where unknown), until
                     Ctrl-C or --timeout: from the kernel's sock:inet_sock_set_state
                     tracepoint where this process may read tracefs (root), else polls
  --interval MS      with --watch, when polling: time between polls (default 20)
  --timeout MS       with --watch: stop after MS milliseconds
  --source S         auto (default: netlink, then /proc), netlink or proc;
                     with --watch also tracepoint or poll
  -h, --help         this text

Exit status: 0 when a socket matched (with --watch: at any time), 1 when none did,
2 on a usage or system error.

Examples:
  sockctl states --port 8080
  sockctl states --port 8080 --state time-wait --json
  sockctl states --port 8080 --watch --timeout 10000
`;

const OPTIONS = {
  port: { type: 'string' },
  state: { type: 'string', multiple: true },
  family: { type: 'string' },
  process: { type: 'boolean', short: 'p' },
  'bound-inactive': { type: 'boolean', short: 'B' },
  udp: { type: 'boolean', short: 'u' },
  unix: { type: 'boolean', short: 'x' },
  info: { type: 'boolean', short: 'i' },
  memory: { type: 'boolean', short: 'm' },
  kill: { type: 'boolean', short: 'K' },
  yes: { type: 'boolean', short: 'y' },
  json: { type: 'boolean' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  source: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

// ss writes ESTAB, TIME-WAIT, SYN-RECV; the library's names are ESTABLISHED, TIME_WAIT, ...
function stateName(text: string): TcpState {
  const name = text.trim().toUpperCase().replace(/-/g, '_');
  const state = name === 'ESTAB' ? 'ESTABLISHED' : name;
  if (!(TCP_STATES as string[]).includes(state)) {
    throw new UsageError(`unknown state '${text}' (states: ${TCP_STATES.join(' ')})`);
  }
  return state as TcpState;
}

function oneOf<T extends string>(text: string | undefined, option: string, allowed: readonly T[]): T | undefined {
  if (text === undefined || (allowed as readonly string[]).includes(text)) return text as T | undefined;
  throw new UsageError(`--${option} must be ${allowed.join(' or ')}, not '${text}'`);
}

/**
 * A command name as the terminal may show it: any process can name itself (prctl
 * PR_SET_NAME, /proc/self/comm) with escape sequences, which must not reach the user's
 * terminal. C0, DEL, C1 and backslash are written \xHH.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** JSON.stringify escapes C0 but leaves DEL and C1 (0x9b is an 8-bit CSI): escaped too, still valid JSON. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function owners(row: TcpStateRow): string {
  const list = (row as Partial<TcpStateRowWithProcess>).owners ?? [];
  return list.map((o) => `${o.pid}/${printable(o.command)}`).join(',') || '-';
}

function timer(row: TcpStateRow): string {
  if (row.timer === null) return '';
  const retries = row.retransmits > 0 ? ` (${row.retransmits} retransmits)` : '';
  return `${row.timer.kind} ${(row.timer.expiresMs / 1000).toFixed(1)}s${retries}`;
}

function table(rows: TcpStateRow[], withProcess: boolean, udp = false): string {
  const header = ['State', 'Recv-Q', 'Send-Q', 'Local Address:Port', 'Peer Address:Port', 'Timer'];
  if (withProcess) header.push('PID/Program');
  const lines = rows.map((row) => {
    const cells = [
      udp && row.state === 'CLOSED' ? 'UNCONN' : row.state,
      String(row.recvQ),
      String(row.sendQ),
      formatEndpoint(row.localAddress, row.localPort),
      formatEndpoint(row.remoteAddress, row.remotePort),
      timer(row),
    ];
    if (withProcess) cells.push(owners(row));
    return cells;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((cells) => cells[i]!.length)));
  const text = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  // -i, -m: a second line under the row, in ss's words.
  const details = (row: TcpStateRow) => [row.memory ? skmem(row.memory) : '', row.info !== undefined || row.congestion !== undefined ? tcpDetails(row) : ''].filter((d) => d !== '').join(' ');
  return [text(header), ...lines.map((cells, i) => {
    const more = details(rows[i]!);
    return more === '' ? text(cells) : `${text(cells)}\n\t ${more}`;
  })].join('\n') + '\n';
}

/** `ss -xa`'s columns: Netid State Recv-Q Send-Q, the name and inode, the peer's inode. */
function unixTable(rows: UnixSocketRow[]): string {
  const NETID = { stream: 'u_str', dgram: 'u_dgr', seqpacket: 'u_seq', unknown: '?' } as const;
  const STATE: Partial<Record<string, string>> = { ESTABLISHED: 'ESTAB', CLOSED: 'UNCONN' };
  const header = ['Netid', 'State', 'Recv-Q', 'Send-Q', 'Path', 'Inode', 'Peer'];
  const lines = rows.map((r) => [NETID[r.type], STATE[r.state] ?? r.state, String(r.recvQ), String(r.sendQ), r.path === null ? '*' : printable(r.path), String(r.inode), String(r.peerInode ?? '*')]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((cells) => cells[i]!.length)));
  return [header, ...lines].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `ss -m`'s skmem:(r,rb,t,tb,f,w,o,bl,d). */
function skmem(m: SocketMemory): string {
  return `skmem:(r${m.rmemAlloc},rb${m.rcvbuf},t${m.wmemAlloc},tb${m.sndbuf},f${m.fwdAlloc},w${m.wmemQueued},o${m.optmem},bl${m.backlog},d${m.drops})`;
}

/** `ss -ti`'s words for what TCP_INFO says (times in ms, as ss prints them). */
function tcpDetails(row: TcpStateRow): string {
  const i = row.info;
  if (i === null || i === undefined) return row.congestion ?? '';
  const ms = (us: number | undefined) => String((us ?? 0) / 1000);
  const parts = [row.congestion ?? '', `wscale:${i.sndWscale},${i.rcvWscale}`, `rto:${ms(i.rto)}`, `rtt:${ms(i.rtt)}/${ms(i.rttvar)}`, `mss:${i.sndMss}`, `pmtu:${i.pmtu}`, `rcvmss:${i.rcvMss}`, `advmss:${i.advmss}`, `cwnd:${i.sndCwnd}`];
  if ((i.sndSsthresh ?? 0) < 0x7fffffff) parts.push(`ssthresh:${i.sndSsthresh}`);
  if ((i.retrans ?? 0) > 0 || (i.totalRetrans ?? 0) > 0) parts.push(`retrans:${i.retrans}/${i.totalRetrans}`);
  if (i.segsOut) parts.push(`segs_out:${i.segsOut}`);
  if (i.segsIn) parts.push(`segs_in:${i.segsIn}`);
  if (i.pacingRate !== undefined) parts.push(`pacing_rate ${i.pacingRate * 8}bps`);
  if (i.deliveryRate) parts.push(`delivery_rate ${i.deliveryRate * 8}bps`);
  if (i.delivered) parts.push(`delivered:${i.delivered}`);
  parts.push(`rcv_space:${i.rcvSpace}`, `rcv_ssthresh:${i.rcvSsthresh}`);
  if (i.minRtt !== undefined) parts.push(`minrtt:${ms(i.minRtt)}`);
  if (i.sndWnd !== undefined) parts.push(`snd_wnd:${i.sndWnd}`);
  return parts.filter((p) => p !== '').join(' ');
}

/** Local time, HH:MM:SS.mmm. */
function clock(time: number): string {
  const now = new Date(time);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
}

async function watch(filter: TcpStatesFilter, json: boolean, source: WatchSource, intervalMs: number, timeoutMs: number | undefined): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', stop); // the reader went away (`| head`): EPIPE
  const timeout = timeoutMs === undefined ? undefined : setTimeout(stop, timeoutMs);
  let matched = false;
  const changes = watchStates(filter, { source, intervalMs, initial: true });
  process.stderr.write(`sockctl states: watching through the ${changes.source === 'tracepoint' ? 'sock:inet_sock_set_state tracepoint' : `sock_diag polls every ${intervalMs} ms`}${changes.fallback ? ` (no tracepoint: ${changes.fallback})` : ''}\n`);
  const onAbort = () => changes.close();
  controller.signal.addEventListener('abort', onAbort);
  try {
    for await (const change of changes) {
      matched = true;
      if (json) {
        process.stdout.write(`${toJson(changeToJson(change))}\n`);
      } else {
        const id = `${formatEndpoint(change.row.localAddress, change.row.localPort)} ${formatEndpoint(change.row.remoteAddress, change.row.remotePort)}`;
        // The time in the state left, as bcc's tcpstates prints it ('-': unknown).
        const what = change.from === null ? change.to : `${change.from} -> ${change.to}  ${change.durationMs === null ? '-' : change.durationMs.toFixed(3)} ms`;
        const owner = filter.withProcess ? `  ${owners(change.row)}` : '';
        process.stdout.write(`${clock(change.time)}  ${id}  ${what}  sk:${change.cookie ?? '-'}${owner}\n`);
      }
    }
  } finally {
    changes.close();
    clearTimeout(timeout);
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    process.stdout.removeListener('error', stop);
  }
  if (changes.dropped > 0) process.stderr.write(`sockctl states: the kernel dropped ${changes.dropped} events\n`);
  return matched ? 0 : 1;
}

async function ask(question: string): Promise<string> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await prompt.question(question);
  } finally {
    prompt.close();
  }
}

/**
 * --kill: each row listed is destroyed (destroySocket); more than one only with --yes, or
 * a 'y' on a terminal. A
 * socket gone meanwhile (ENOENT) is said and skipped; anything else (EPERM) stops, exit 2.
 */
async function kill(rows: TcpStateRow[], yes: boolean, json: boolean, withProcess: boolean): Promise<number> {
  if (rows.length === 0) return 1;
  if (rows.length > 1 && !yes) {
    process.stderr.write(`sockctl states: ${rows.length} sockets match:\n${table(rows, withProcess)}`);
    // Asked on a terminal; elsewhere (a script, a pipe) nothing is destroyed without --yes.
    const answer = process.stdin.isTTY ? await ask(`destroy all ${rows.length}? [y/N] `) : '';
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write('sockctl states: nothing destroyed (--yes destroys them all, or narrow the filter)\n');
      return 2;
    }
  }
  const destroyed: TcpStateRow[] = [];
  for (const row of rows) {
    const id = `${row.state} ${formatEndpoint(row.localAddress, row.localPort)} ${formatEndpoint(row.remoteAddress, row.remotePort)} sk:${row.cookie ?? '-'}`;
    try {
      destroySocket(row);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') {
        process.stderr.write(`sockctl states: already gone: ${id}\n`);
        continue;
      }
      throw error;
    }
    destroyed.push(row);
    if (!json) process.stdout.write(`destroyed ${id}\n`);
  }
  if (json) process.stdout.write(`${toJson(destroyed, 2)}\n`);
  return destroyed.length > 0 ? 0 : 1;
}

export async function runStates(args: string[]): Promise<number> {
  let values;
  let filter: TcpStatesFilter;
  let intervalMs: number;
  let timeoutMs: number | undefined;
  let watchSource: WatchSource;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const named = values.state?.flatMap((s) => s.split(',')).filter((s) => s !== '').map(stateName);
    // -B: the bound, inactive sockets, which the kernel dumps as CLOSED (lib/states/filter.ts).
    const states = values['bound-inactive'] ? [...(named ?? []), 'CLOSED' as const] : named;
    filter = {
      port: integer(values.port, 'port', 1, 65535),
      state: states,
      family: oneOf<SocketFamily>(values.family, 'family', ['ipv4', 'ipv6']),
      withProcess: values.process ?? false,
      info: values.info ?? false,
      protocol: values.udp ? 'udp' : 'tcp',
      memory: values.memory ?? false,
    };
    const source = oneOf<TcpStatesSource | 'tracepoint' | 'poll'>(values.source, 'source', ['auto', 'netlink', 'proc', 'tracepoint', 'poll']);
    if (!values.watch && (source === 'tracepoint' || source === 'poll')) throw new UsageError(`--source ${source} goes with --watch`);
    // With --watch: tracepoint or poll choose the watch; netlink or proc, the poll's listing.
    if (source === 'netlink' || source === 'proc') filter.source = source;
    watchSource = source === 'tracepoint' || source === 'poll' ? source : source === undefined || source === 'auto' ? 'auto' : 'poll';
    intervalMs = integer(values.interval, 'interval', 1, 60_000) ?? 20;
    timeoutMs = integer(values.timeout, 'timeout', 0, 2 ** 31 - 1);
    if (!values.watch && (values.interval !== undefined || values.timeout !== undefined)) {
      throw new UsageError('--interval and --timeout go with --watch');
    }
    if (values.kill && values.watch) throw new UsageError('--kill does not go with --watch');
    if (values.udp && (values.watch || values.kill)) throw new UsageError(`--udp does not go with --${values.watch ? 'watch' : 'kill'}: TCP only`);
    if (values.unix) {
      const given: Record<string, unknown> = values;
      const other = ['port', 'state', 'family', 'watch', 'kill', 'udp', 'info', 'memory', 'bound-inactive', 'process', 'source'].find((name) => given[name] !== undefined);
      if (other !== undefined) throw new UsageError(`--unix lists every UNIX socket: --${other} does not go with it`);
    }
    if (values.kill && filter.port === undefined) throw new UsageError('--kill needs --port: it destroys every socket listed');
    if (values.yes && !values.kill) throw new UsageError('--yes goes with --kill');
  } catch (error) {
    process.stderr.write(`sockctl states: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  try {
    if (values.watch) return await watch(filter, values.json ?? false, watchSource, intervalMs, timeoutMs);
    if (values.unix) {
      const sockets = await unixSockets();
      process.stdout.write(values.json ? `${toJson(sockets, 2)}\n` : unixTable(sockets));
      return sockets.length > 0 ? 0 : 1;
    }
    const rows = await tcpStates(filter);
    if (values.kill) return await kill(rows, values.yes ?? false, values.json ?? false, filter.withProcess ?? false);
    process.stdout.write(values.json ? `${toJson(rows, 2)}\n` : table(rows, filter.withProcess ?? false, filter.protocol === 'udp'));
    return rows.length > 0 ? 0 : 1;
  } catch (error) {
    process.stderr.write(`sockctl states: ${(error as Error).message}\n`);
    return 2;
  }
}

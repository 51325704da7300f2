// Compiled by test/types.test.ts (tsc --noEmit) against dist/, the types that ship: they must accept what the
// runtime accepts and refuse what it refuses. Each @ts-expect-error fails the compile if
// the line below it ever type-checks.
import net from 'node:net';
import { constants, FdChannel, getOption, listen, notify, receiveConnection, restart, sendConnection, serve, setOption, tcpStatesSync, waitForState, watchStates, whyInUse, type AddressInUseError, type TcpStateChange, type TcpStateChangeJson, type ListenOptions, type NotifyOptions, type PortCause, type ReloadReceipt, type RestartOptions, type ServeStatus } from '../../dist/index';

declare const server: net.Server;

// listen: a numeric string port, as Node's listen (and ours at runtime) takes it.
void listen(server, { port: '8080' });
void listen(server, { port: 8080, host: '127.0.0.1', sockopts: { TCP_KEEPIDLE: 30 } });
// @ts-expect-error a port is a number or a string
void listen(server, { port: true });
// @ts-expect-error unknown keys are refused at runtime, and by the type
void listen(server, { reuseaddr: false });
// @ts-expect-error SO_REUSEADDR has options.reuseAddr, not sockopts
void listen(server, { sockopts: { SO_REUSEADDR: true } });

// restart keeps the old port: no `port` in its options.
void restart(server, new net.Server(), { reusePort: true });
// @ts-expect-error restart() refuses options.port
void restart(server, new net.Server(), { port: 1 });
const restartOptions: RestartOptions = { host: '::1' };
// @ts-expect-error RestartOptions has no port
const withPort: RestartOptions = { port: 1 };
const listenOptions: ListenOptions = { ...restartOptions, port: 0 };

// constants: the names a Linux user relies on are numbers, not number | undefined.
const idle: number = constants.TCP_KEEPIDLE;
const reuse: number = constants.SO_REUSEADDR + constants.SO_REUSEPORT;
const info: number = constants.TCP_INFO;
const eagain: number = constants.errno.EAGAIN;
// @ts-expect-error not a constant sockctl has
void constants.SO_NOSUCHTHING;

// Options by name: the value's type follows the option.
setOption(server, 'SO_LINGER', { onoff: true, linger: 0 });
// @ts-expect-error SO_LINGER takes { onoff, linger }
setOption(server, 'SO_LINGER', 0);
// @ts-expect-error SO_TYPE is read-only
setOption(server, 'SO_TYPE', 1);
const state: string = getOption(server, 'TCP_INFO').state;
// A field the kernel may not fill (a short struct) is possibly absent.
const rtt: number | undefined = getOption(server, 'TCP_INFO').rtt;
// @ts-expect-error rtt may be absent
const rttNumber: number = getOption(server, 'TCP_INFO').rtt;

// waitForState's options: timeoutMs and signal only.
void waitForState({ port: 1 }, 'LISTEN', { timeoutMs: 10, signal: AbortSignal.timeout(10) });
// @ts-expect-error `timeout` is not an option (it silently waited 5000 ms once)
void waitForState({ port: 1 }, 'LISTEN', { timeout: 50 });


// notify: a state, and a bounded wait for room in the receiver's queue.
void notify('READY=1', { timeoutMs: 1000, signal: AbortSignal.timeout(5) });
const notifyOptions: NotifyOptions = { timeoutMs: 0 };
void notifyOptions;
// @ts-expect-error unknown keys are refused at runtime, and by the type
void notify('READY=1', { timeout: 5 });

// serve: the supervisor as a library; the receipt and status are typed.
async function supervise(): Promise<void> {
  const s = await serve({ listen: ['http=127.0.0.1:0', { kind: 'unix', name: 'api', path: '/run/app.sock', mode: 0o660 }], command: ['node', 'app.js'], workers: 2 });
  const receipt: ReloadReceipt = await s.reload();
  const queued: number = receipt.lost.queued;
  const kept: number | undefined = receipt.connections?.kept;
  void [kept, serve({ listen: ['127.0.0.1:0'], command: ['node', 'app.js'], keepConnections: true })];
  const status: ServeStatus = s.status();
  const workers: number = await s.scale(status.workers.length + 1);
  void [queued, workers];
  await s.stop();
  // @ts-expect-error the command is an array: the program, then its arguments
  void serve({ listen: ['127.0.0.1:0'], command: 'node app.js' });
  // @ts-expect-error unknown keys are refused at runtime, and by the type
  void serve({ listen: ['127.0.0.1:0'], command: ['node'], worker: 2 });
}
void supervise;

// sendConnection / receiveConnection: a net.Socket and a JSON state each way.
async function move(channel: FdChannel, socket: net.Socket): Promise<net.Socket> {
  await sendConnection(channel, socket, { state: { session: 1 }, timeoutMs: 1000 });
  // @ts-expect-error unknown keys are refused at runtime, and by the type
  await sendConnection(channel, socket, { sate: 1 });
  const { socket: moved, state } = await receiveConnection(channel, { timeoutMs: 1000 });
  void state;
  return moved;
}
void move;

// whyInUse: a port is required; unknown keys are refused; causes narrow by kind.
void whyInUse({ port: 8080, host: '::', reuseAddr: false, reusePort: true, ipv6Only: true });
// @ts-expect-error the port is required
void whyInUse({ host: '127.0.0.1' });
// @ts-expect-error unknown keys are refused at runtime, and by the type
void whyInUse({ port: 1, reuseaddr: true });
declare const cause: PortCause;
if (cause.kind === 'time-wait') {
  const oldReuse: boolean | null = cause.oldOptions.reuseAddr;
  const left: number = cause.timeLeftMs.max;
  void [oldReuse, left];
}
// @ts-expect-error only a time-wait cause has a count
void cause.count;
declare const failed: AddressInUseError;
const kinds: string[] | undefined = failed.causes?.map((c) => c.kind);

export const used = [withPort, listenOptions, idle, reuse, info, eagain, state, rtt, rttNumber, kinds];

// watchStates: each change says how long the socket spent in the state it left, or null.
async function durations(): Promise<void> {
  for await (const change of watchStates({ port: 80 })) {
    const ms: number | null = change.durationMs;
    // @ts-expect-error unknown is null, not a number: it must be checked
    const always: number = change.durationMs;
    void ms;
    void always;
  }
}
void durations;
declare const line: TcpStateChangeJson;
const lineMs: number | null = line.durationMs;
// @ts-expect-error a change without durationMs is not a TcpStateChange
const bare: TcpStateChange = { time: 0, from: null, to: 'LISTEN', cookie: null, row: undefined as never, via: 'poll' };
void lineMs;
void bare;

// tcpStates' info and memory: optional on a row, null where the kernel gave none.
const [detailed] = tcpStatesSync({ port: 80, info: true, memory: true });
const detailedRtt: number | undefined = detailed?.info?.rtt;
const detailedBuffer: number | undefined = detailed?.memory?.rcvbuf;
// @ts-expect-error info may be null or absent: it must be checked
const unchecked: number = detailed!.info.rtt;
// @ts-expect-error info is a boolean
tcpStatesSync({ info: 'yes' });
void [detailedRtt, detailedBuffer, unchecked];

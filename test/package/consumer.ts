// A TypeScript consumer compiled with tsc --strict against the shipped types.
import { createServer, type Server, type Socket } from 'node:net';
import {
  connect, constants, createListener, dup, getOption, listen, ListeningDescriptor, restart, setOption, shutdown, socket, timeWaitOn,
  type OptionName, type TcpInfo, type TimeWaitResult,
} from 'sockctl';
import { tcpStates, tcpStatesSync, waitForState, type TcpStateRow, type TcpStatesFilter } from 'sockctl';
import { fillSendQueue, halfClosedPair, loopbackPair, renderStateDiagram, runLab, type LabReport } from 'sockctl';
import { drain, FdChannel, listenFds, notify, takeover, type DrainResult, type SystemdDescriptor, type Takeover } from 'sockctl';

const s = socket('ipv4');
const reusePort: boolean = getOption(s, 'SO_REUSEPORT');
const buffer: number = getOption(s, 'SO_RCVBUF');
const linger: { onoff: boolean; linger: number } = getOption(s, 'SO_LINGER');
const info: TcpInfo = getOption(s, 'TCP_INFO');
const name: OptionName = 'TCP_NODELAY';
setOption(s, 'SO_LINGER', { onoff: true, linger: 0 });
setOption(s, name, true);
// @ts-expect-error a flag takes a boolean
setOption(s, 'SO_REUSEPORT', 1);
// @ts-expect-error read-only options cannot be set
setOption(s, 'SO_TYPE', 1);
// @ts-expect-error unknown option names do not compile
getOption(s, 'SO_NOPE');
// @ts-expect-error 'sideways' is not a way to shut down
shutdown(s, 'sideways');
{
  using copy = dup(s);
  void copy.fd;
}
const wr: number = constants.SHUT_WR;
void (async () => {
  const server: Server = await listen(createServer(), { host: '127.0.0.1', reusePort: true, sockopts: { SO_RCVBUF: 65536 } });
  // @ts-expect-error sockopts takes the table's writable options with their value types
  await listen(createServer(), { sockopts: { TCP_NODELAY: 1 } });
  const listener: ListeningDescriptor = await createListener({ port: 0 });
  const port: number = listener.address.port;
  const result: TimeWaitResult = await timeWaitOn(server, 2);
  const next: Server = await restart(server, createServer(), { reuseAddr: true });
  const client: Socket = await connect({ port: 80, host: '127.0.0.1', localPort: 0, sockopts: { SO_RCVBUF: 4096 }, timeoutMs: 100 });
  client.destroy();
  // @ts-expect-error connect's sockopts take the table's value types
  await connect({ port: 80, sockopts: { TCP_NODELAY: 1 } });
  void [port, result.timeWait, next];
})();
void [reusePort, buffer, linger, info.state, wr];
s.close();

const filter: TcpStatesFilter = { port: 8080, state: ['TIME_WAIT', 'FIN_WAIT_2'], family: 'ipv4' };
const rows: TcpStateRow[] = tcpStatesSync(filter);
const owned = tcpStatesSync({ port: 8080, withProcess: true });
const pid: number | null = owned[0]!.pid;
void tcpStates().then((all) => all.map((row) => row.timer?.expiresMs));
void waitForState({ localPort: 8080 }, 'LISTEN', { timeoutMs: 10 }).catch(() => undefined);
// @ts-expect-error a state is one of the TCP diagram's names
tcpStatesSync({ state: 'TIMEWAIT' });
// @ts-expect-error rows have no process fields without withProcess
void tcpStatesSync(filter)[0]!.pid;
void [rows, pid];

async function lab(): Promise<void> {
  const pair = await halfClosedPair();
  await pair.close();
  const paused = await loopbackPair('127.0.0.1', { paused: true });
  const queued: number = fillSendQueue(paused.client);
  await paused.close();
  const report: LabReport = await runLab(['half-close']);
  const svg: string = renderStateDiagram({ states: report.states, transitions: report.transitions });
  void [queued, svg];
}
void lab;

async function handover(): Promise<void> {
  const [web]: SystemdDescriptor[] = listenFds({ unsetEnvironment: true });
  if (web !== undefined) await listen(createServer(), { descriptor: web, backlog: 128 });
  const sent: boolean = await notify('READY=1');
  const t: Takeover = await takeover({ path: '/tmp/x.sock', listeners: { web: { port: 8080 } }, readyTimeoutMs: 1000 });
  const served: Server = await t.listen('web', createServer());
  await t.ready();
  const drained: DrainResult[] = await t.replaced({ signal: AbortSignal.timeout(10) });
  const result: DrainResult = await drain(served, { timeoutMs: 10 });
  const channel = FdChannel.connect('/tmp/y.sock');
  await channel.send('x', [served]);
  const { descriptors } = await channel.receive({ maxDescriptors: 1 });
  void [sent, drained, result.timedOut, descriptors[0]?.fd];
}
void handover;

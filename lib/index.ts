// sockctl: the parts of the socket API that Node core hides.
export { fdOf, type Target } from './core/target';
export {
  getOption,
  setOption,
  OPTIONS,
  type Linger,
  type OptionName,
  type OptionValue,
  type TcpInfo,
  type WritableOptionName,
} from './core/options';
export { shutdown, type ShutdownHow } from './core/shutdown';
export { dup, OwnedDescriptor } from './core/descriptor';
export { socket, type SocketFamily, type SocketType } from './core/socket';
export { constants, type Constants } from './core/constants';
export { type TcpState } from './core/tcp-states';
export { type SystemError } from './core/errors';
export { tcpStates, tcpStatesSync } from './states/list';
export { waitForState, type WaitForStateOptions, type WaitForStateTimeout } from './states/wait';
export { destroySocket, type DestroyTarget } from './states/destroy';
export { unixSockets, unixSocketsSync, type UnixSocketRow } from './states/unix';
export { type TcpStatesFilter, type TcpStatesSource } from './states/filter';
export {
  watchStates,
  StateWatch,
  type TcpStateChange,
  type TcpStateChangeJson,
  type WatchSource,
  type WatchStatesOptions,
} from './states/watch';
export {
  type SocketOwner,
  type TcpStateRow,
  type TcpStateRowWithProcess,
  type TcpTimer,
  type TcpTimerKind,
} from './states/row';
export { listen, type DescriptorListenOptions } from './listen/listen';
export { createListener, ListeningDescriptor } from './listen/listener';
export { type ListenOptions, type ListenSockopts } from './listen/options';
export { restart } from './listen/restart';
export { type RestartOptions } from './listen/options';
export { timeWaitOn, type TimeWaitOptions, type TimeWaitResult } from './listen/time-wait';
export { halfClosedPair, loopbackPair, type LoopbackPair, type LoopbackPairOptions } from './lab/loopback';
export { fillSendQueue } from './lab/fill';
export { runLab, type LabOptions, type LabReport, type ScenarioResult } from './lab/run';
export { type LabEvent } from './lab/recorder';
export { renderStateDiagram, type Observed } from './lab/diagram';
export { connect, type ConnectError } from './connect/connect';
export { whyInUse, type WhyInUseResult } from './why/why';
export { type WhyInUseOptions } from './why/options';
export { type ReuseMatrix } from './why/probe';
export { type PortSocket } from './why/sockets';
export { type AddressInUseError } from './why/attach';
export {
  type BoundCause,
  type ConnectionCause,
  type DualStackCause,
  type ListenerCause,
  type PortCause,
  type PortRangeCause,
  type ReusePortCause,
  type TimeWaitCause,
} from './why/causes';
export { type ConnectOptions, type ConnectSockopts } from './connect/options';
export { type SocketInfo } from './core/describe';
export { listenFds, SystemdDescriptor, LISTEN_FDS_START, type ListenFdsOptions } from './handover/systemd';
export { notify, type NotifyOptions } from './handover/notify';
export { drain, type DrainOptions, type DrainResult } from './handover/drain';
export { FdChannel, listenUnix, type ChannelWaitOptions, type PeerCredentials, type ReceivedMessage, type ReceiveOptions } from './handover/scm-rights';
export { sendConnection, receiveConnection, type ReceivedConnection, type SendConnectionOptions } from './handover/connection';
export { takeover, Takeover, TAKEOVER_PROTOCOL, type TakeoverOptions, type TakeoverState } from './handover/takeover';
export { serve, ServeHandle, type ServeOptions, type ServeLogEntry, type ListenSpec, type ReloadReceipt, type ServeStatus } from './serve/serve';

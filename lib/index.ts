// sockctl: the parts of the socket API that Node core hides.
export { fdOf, type Target } from './target';
export {
  getOption,
  setOption,
  OPTIONS,
  type Linger,
  type OptionName,
  type OptionValue,
  type TcpInfo,
  type WritableOptionName,
} from './options';
export { shutdown, type ShutdownHow } from './shutdown';
export { dup, OwnedDescriptor } from './descriptor';
export { socket, type SocketFamily, type SocketType } from './socket';
export { constants, type Constants } from './constants';
export { type TcpState } from './tcp-states';
export { type SystemError } from './errors';
export { listen } from './listen';
export { createListener, ListeningDescriptor } from './listener';
export { type ListenOptions, type ListenSockopts } from './listen-options';
export { restart } from './restart';
export { timeWaitOn, type TimeWaitOptions, type TimeWaitResult } from './time-wait';
export { tcpStates, tcpStatesSync } from './states/list';
export { waitForState, type WaitForStateOptions, type WaitForStateTimeout } from './states/wait';
export { type TcpStatesFilter, type TcpStatesSource } from './states/filter';
export {
  type SocketOwner,
  type TcpStateRow,
  type TcpStateRowWithProcess,
  type TcpTimer,
  type TcpTimerKind,
} from './states/row';

// sendConnection / receiveConnection: an established TCP connection handed from one process
// to another over an FdChannel (SCM_RIGHTS), with a small state blob of the caller's. The
// kernel socket moves, so the peer sees nothing: no FIN, no reset, no new handshake; bytes
// it sends meanwhile wait in the socket's receive queue for whoever reads next.
//
// The sender stops reading first, so that nothing more enters this process; bytes already
// read into it (readableLength) or not yet written out (writableLength) would be lost with
// the move, so such a socket is refused (EBUSY) and stays the caller's. Once the message
// is queued in the kernel the sender's copy is destroyed (close, never shutdown: shutdown
// would act on the connection the other process now serves).
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { errnoException, invalidArgType, invalidArgValue } from '../core/errors';
import { getOption } from '../core/options';
import { fdOf } from '../core/target';
import type { OwnedDescriptor } from '../core/descriptor';
import { readOptions } from '../core/validate';
import { FdChannel, type ChannelWaitOptions } from './scm-rights';
import { protocolError } from './frames';

export interface SendConnectionOptions extends ChannelWaitOptions {
  /** Anything JSON can carry, given to the receiver as `state` (at most about 60 KiB). */
  state?: unknown;
}

export interface ReceivedConnection {
  /** The connection, reading: attach listeners before the next turn of the loop. */
  socket: net.Socket;
  /** The sender's `state` (undefined if it sent none). */
  state: unknown;
}

/** Marks the message, so that a receiver never takes another protocol's frame for a connection. */
const KIND = 'sockctl.connection';

interface Handle {
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
}

/** Stops the kernel-to-process reads of `socket` (an HTTP parser that consumes the handle included). */
export function stopReading(socket: net.Socket): void {
  const handle = (socket as unknown as { _handle?: Handle | null })._handle;
  socket.pause();
  if (handle?.readStop !== undefined) {
    handle.readStop();
    handle.reading = false;
  }
}

/** Undoes stopReading: the socket stays this process's. */
export function startReading(socket: net.Socket): void {
  const handle = (socket as unknown as { _handle?: Handle | null })._handle;
  if (handle?.readStart !== undefined && !socket.destroyed) {
    handle.reading = true;
    handle.readStart();
  }
  socket.resume();
}

/** Throws unless `socket` is a connected socket whose bytes are all in the kernel. */
export function checkMovable(socket: unknown, name = 'socket'): asserts socket is net.Socket {
  if (!(socket instanceof net.Socket)) throw invalidArgType(name, 'an instance of net.Socket', socket);
  if (socket.destroyed || socket.connecting) throw errnoException(osConstants.errno.ENOTCONN, 'sendmsg', { reason: `${name} is not connected` });
  // The receiver takes only a TCP connection: anything else would be sent, destroyed here,
  // and refused there, lost on both sides.
  if (!isTcpStream(fdOf(socket))) throw invalidArgValue(name, '<a net.Socket that is not TCP>', 'must be a TCP connection (a UNIX-domain socket cannot be handed over as one)');
  if (socket.readableLength > 0) throw errnoException(osConstants.errno.EBUSY, 'sendmsg', { reason: `${socket.readableLength} bytes were already read into this process` });
  if (socket.writableLength > 0) throw errnoException(osConstants.errno.EBUSY, 'sendmsg', { reason: `${socket.writableLength} bytes are not yet written to the kernel` });
}

/** The frame that carries a connection: its kind and the caller's fields. */
export function connectionMessage(fields: Record<string, unknown>): string {
  return JSON.stringify({ kind: KIND, ...fields });
}

/** A connection frame's fields, with its one descriptor; anything else is EPROTO (and what came is closed). */
export function readConnectionMessage(message: Buffer, descriptors: OwnedDescriptor[]): { fields: Record<string, unknown>; descriptor: OwnedDescriptor } {
  let fields: unknown;
  try {
    fields = JSON.parse(message.toString('utf8'));
  } catch {
    fields = undefined;
  }
  if (descriptors.length !== 1 || typeof fields !== 'object' || fields === null || (fields as { kind?: unknown }).kind !== KIND) {
    for (const d of descriptors) d.close();
    throw protocolError(`not a connection: ${descriptors.length} descriptor(s) and ${message.length} bytes of another message`);
  }
  return { fields: fields as Record<string, unknown>, descriptor: descriptors[0]! };
}

/** Whether `fd` is a TCP socket that does not listen. */
function isTcpStream(fd: number): boolean {
  try {
    const info = binding.describeSocket(fd);
    return info.type === 'stream' && (info.family === 'ipv4' || info.family === 'ipv6') && !info.listening;
  } catch {
    return false;
  }
}

/** Whether `fd` is a TCP socket with a peer (not listening, not closed, not connecting). */
function isConnectedTcp(fd: number): boolean {
  if (!isTcpStream(fd)) return false;
  try {
    return !['CLOSE', 'LISTEN', 'SYN_SENT'].includes(getOption(fd, 'TCP_INFO').state);
  } catch {
    return false;
  }
}

/** A net.Socket on a received connection's descriptor (which it owns from then on); anything but a connected TCP socket is closed and refused (ENOTCONN). */
export function socketOn(descriptor: OwnedDescriptor, allowHalfOpen = false): net.Socket {
  if (!isConnectedTcp(descriptor.fd)) {
    descriptor.close();
    throw errnoException(osConstants.errno.ENOTCONN, 'recvmsg', { reason: 'the descriptor received is not a connected TCP socket' });
  }
  let socket: net.Socket;
  try {
    socket = new net.Socket({ fd: descriptor.fd, readable: true, writable: true, allowHalfOpen });
  } catch (error) {
    descriptor.close(); // ERR_INVALID_FD_TYPE: a datagram or UNIX socket
    throw error;
  }
  descriptor.release(); // Node's handle closes it from here
  return socket;
}

/**
 * Hands `socket`, an established connection, to the process at the other end of `channel`,
 * which takes it with receiveConnection(). Resolves once the kernel holds it in the message;
 * the socket is then destroyed here (nothing is sent to the peer). On a failure it stays
 * this process's, reading again. EBUSY if bytes of it are already in this process.
 */
export async function sendConnection(channel: FdChannel, socket: net.Socket, options?: SendConnectionOptions): Promise<void> {
  if (!(channel instanceof FdChannel)) throw invalidArgType('channel', 'an instance of FdChannel', channel);
  const o = readOptions(options ?? undefined, 'options', ['state', 'timeoutMs', 'signal'], 'an option of sendConnection');
  let message: string;
  try {
    message = connectionMessage(o.state === undefined ? {} : { state: o.state });
  } catch (error) {
    throw invalidArgValue('options.state', o.state, `cannot be sent as JSON (${(error as Error).message})`);
  }
  checkMovable(socket);
  stopReading(socket);
  try {
    await channel.send(message, [fdOf(socket)], { timeoutMs: o.timeoutMs as number | undefined, signal: o.signal as AbortSignal | undefined });
  } catch (error) {
    startReading(socket);
    throw error;
  }
  socket.destroy();
}

/** The next connection sent with sendConnection(), as a net.Socket of this process. */
export async function receiveConnection(channel: FdChannel, options?: ChannelWaitOptions): Promise<ReceivedConnection> {
  if (!(channel instanceof FdChannel)) throw invalidArgType('channel', 'an instance of FdChannel', channel);
  const o = readOptions(options ?? undefined, 'options', ['timeoutMs', 'signal'], 'an option of receiveConnection');
  const { message, descriptors } = await channel.receive({ timeoutMs: o.timeoutMs as number | undefined, signal: o.signal as AbortSignal | undefined, maxDescriptors: 1 });
  const { fields, descriptor } = readConnectionMessage(message, descriptors);
  return { socket: socketOn(descriptor), state: fields.state };
}

// The takeover's messages on its AF_UNIX channel: one JSON object per datagram-like
// message (FdChannel frames them), the listeners' descriptors riding with 'listeners'.
//   new -> running: hello {protocol: {min, max}, pid}
//   running -> new: hello {protocol: agreed, pid}, listeners {names} + descriptors,
//                   or refused {code, reason} at any step
//   new -> running: ready            running -> new: done
import { constants as osConstants } from 'node:os';
import { errnoException, type SystemError } from '../core/errors';
import type { Target } from '../core/target';
import type { ChannelWaitOptions, FdChannel, ReceiveOptions } from './scm-rights';

/** The protocol versions this sockctl speaks; the two sides agree on the highest both know. */
export const TAKEOVER_PROTOCOL = Object.freeze({ min: 1, max: 1 } as const);

export type TakeoverMessage =
  | { type: 'hello'; protocol: number | { min: number; max: number }; pid: number }
  | { type: 'listeners'; names: string[] }
  | { type: 'ready' }
  | { type: 'done' }
  | { type: 'refused'; code: string; reason: string };

/** A received message: its type checked, the rest as the peer sent it. */
export type Received = Record<string, unknown> & { type: string };

export function refusal(code: string, reason: string, path: string): SystemError {
  const errno = (osConstants.errno as Record<string, number>)[code] ?? osConstants.errno.EPROTO;
  return errnoException(errno, 'takeover', { address: path, reason });
}

export function sendMessage(channel: FdChannel, message: TakeoverMessage, options: ChannelWaitOptions, descriptors: readonly Target[] = []): Promise<void> {
  return channel.send(JSON.stringify(message), descriptors, options);
}

export function parseMessage(message: Buffer): Received {
  let value: unknown;
  try {
    value = JSON.parse(message.toString('utf8'));
  } catch {
    throw errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason: 'a takeover message that is not JSON' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
    throw errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason: 'a takeover message without a type' });
  }
  return value as Received;
}

/** Throws the peer's refusal as its error, or EPROTO for any other type than `type`. */
export function expectType(message: Received, type: TakeoverMessage['type'], path: string): void {
  if (message.type === 'refused') throw refusal(String(message.code), `refused by the running version: ${String(message.reason)}`, path);
  if (message.type !== type) throw errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason: `expected '${type}', got '${String(message.type).slice(0, 40)}'` });
}

/**
 * The next message, which must be of `type`. Descriptors come only with 'listeners' (then
 * they are the caller's to close); any other message's are closed here, never leaked.
 */
export async function receiveMessage(channel: FdChannel, type: TakeoverMessage['type'], path: string, options: ReceiveOptions) {
  const { message, descriptors } = await channel.receive(options);
  const carried = type === 'listeners' ? descriptors : [];
  if (type !== 'listeners') for (const descriptor of descriptors) descriptor.close();
  try {
    const received = parseMessage(message);
    expectType(received, type, path);
    return { message: received, descriptors: carried };
  } catch (error) {
    for (const descriptor of carried) descriptor.close();
    throw error;
  }
}

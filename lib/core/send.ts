// send(2) without blocking: as many bytes as the kernel takes now (0 when the send queue is
// full). The lab fills send queues with it; the checks are here, the call in native/send.cc.
import { binding } from './binding';
import { invalidArgType } from './errors';
import { fdOf, type Target } from './target';

export function sendNow(target: Target, data: Uint8Array): number {
  if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'an instance of Buffer or Uint8Array', data);
  return binding.send(fdOf(target), data);
}

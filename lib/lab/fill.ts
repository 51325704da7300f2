// Filling a socket's send queue to the byte, so that a FIN queued after it waits: the way
// the lab holds FIN_WAIT_1, LAST_ACK and CLOSING on loopback without dropping a segment.
import { setOption } from '../core/options';
import { sendNow } from '../core/send';
import { fdOf, type Target } from '../core/target';

const CHUNK = Buffer.alloc(64 * 1024, 0x2e);
// Small buffers keep the bytes it takes few (Linux doubles these: 32 KiB each).
const BUFFER_BYTES = 16 * 1024;
// Far more than any send queue and peer window together; the loop stops at the first 0.
const MAX_CHUNKS = 4096;

/**
 * Sends until the kernel takes no more: the peer must not be reading (a paused
 * loopbackPair). Returns the bytes queued; the socket must be a connected TCP socket.
 */
export function fillSendQueue(target: Target): number {
  const fd = fdOf(target);
  setOption(fd, 'SO_SNDBUF', BUFFER_BYTES);
  let total = 0;
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const sent = sendNow(fd, CHUNK);
    if (sent === 0) return total;
    total += sent;
  }
  throw new Error(`fillSendQueue: the kernel took ${total} bytes and still wants more: is the peer reading?`);
}

/** Limits how much a socket receives before its window closes (set before the peer sends). */
export function limitReceiveBuffer(target: Target): void {
  setOption(target, 'SO_RCVBUF', BUFFER_BYTES);
}

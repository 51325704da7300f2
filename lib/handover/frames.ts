// Framing for descriptors on a stream socket (unix(7)). A stream has no message
// boundaries, and descriptors ride on a byte: they arrive with the first byte of the
// sendmsg that carried them, and a recvmsg that returns them stops right after that
// write's first segment (it may begin with bytes written earlier). So each frame is sent
// by one sendmsg, with its descriptors, and the descriptors of a read belong to the last
// frame whose first byte came in that read. Each frame says how many it carries.
//
// Frame: 'F' (0x46), descriptor count (u8), payload length (u16, big-endian), payload.
import { constants as osConstants } from 'node:os';
import { errnoException } from '../core/errors';

export const FRAME_MAGIC = 0x46;
export const FRAME_HEADER = 4;
export const MAX_PAYLOAD = 0xffff;
export const MAX_FRAME_FDS = 253;

export function encodeFrame(payload: Buffer, fdCount: number): Buffer {
  if (payload.length === 0 || payload.length > MAX_PAYLOAD) throw errnoException(osConstants.errno.EMSGSIZE, 'sendmsg', { reason: `a frame's payload is 1 to ${MAX_PAYLOAD} bytes, not ${payload.length}` });
  if (fdCount > MAX_FRAME_FDS) throw errnoException(osConstants.errno.EINVAL, 'sendmsg', { reason: `at most ${MAX_FRAME_FDS} descriptors a frame` });
  const header = Buffer.from([FRAME_MAGIC, fdCount, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

export interface Frame {
  payload: Buffer;
  fds: number[];
}

export function protocolError(reason: string): Error {
  return errnoException(osConstants.errno.EPROTO, 'recvmsg', { reason });
}

interface Arrival {
  start: number;
  end: number;
  fds: number[];
}

/**
 * Reads frames out of the reads of a stream, each read with the descriptors that came
 * with it. A protocol error (bad magic, descriptors with no frame to belong to, a count
 * that does not match) throws; the reader then holds nothing: `discard()` closes what it
 * still has, and the caller closes the fds of frames it was given.
 */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);
  #base = 0; // stream offset of #buffer[0]
  #total = 0;
  #arrivals: Arrival[] = [];
  readonly #close: (fd: number) => void;

  constructor(close: (fd: number) => void) {
    this.#close = close;
  }

  /** Bytes received but not yet a whole frame (a truncated message, if the stream ends here). */
  get pending(): number {
    return this.#buffer.length;
  }

  push(data: Buffer, fds: number[]): Frame[] {
    const start = this.#total;
    this.#total += data.length;
    if (fds.length > 0) this.#arrivals.push({ start, end: this.#total, fds });
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    const frames: Frame[] = [];
    try {
      for (;;) {
        if (this.#buffer.length < FRAME_HEADER) break;
        if (this.#buffer[0] !== FRAME_MAGIC) throw protocolError(`not a sockctl frame (byte 0x${this.#buffer[0]!.toString(16)} at offset ${this.#base})`);
        const count = this.#buffer[1]!;
        const length = this.#buffer.readUInt16BE(2);
        if (length === 0) throw protocolError('an empty frame');
        const frameStart = this.#base;
        const frameEnd = frameStart + FRAME_HEADER + length;
        if (this.#buffer.length < FRAME_HEADER + length) break;
        // This frame owns the descriptors of the read it starts in, if it is the last to start there.
        const own = this.#arrivals.filter((a) => a.start <= frameStart && frameStart < a.end && frameEnd >= a.end);
        this.#arrivals = this.#arrivals.filter((a) => !own.includes(a));
        // Descriptors whose read ended inside this frame and that it does not own: no frame started in that read.
        if (this.#arrivals.some((a) => a.end <= frameEnd)) {
          for (const fd of own.flatMap((a) => a.fds)) this.#close(fd);
          throw protocolError('descriptors arrived with no frame starting in their read');
        }
        const frameFds = own.flatMap((a) => a.fds);
        if (frameFds.length !== count) {
          for (const fd of frameFds) this.#close(fd);
          throw protocolError(`a frame said ${count} descriptors and ${frameFds.length} came with it`);
        }
        frames.push({ payload: this.#buffer.subarray(FRAME_HEADER, FRAME_HEADER + length), fds: frameFds });
        this.#buffer = this.#buffer.subarray(FRAME_HEADER + length);
        this.#base = frameEnd;
      }
    } catch (error) {
      for (const frame of frames) for (const fd of frame.fds) this.#close(fd);
      this.discard();
      throw error;
    }
    return frames;
  }

  /** Closes every descriptor still held (the stream ended, or failed). */
  discard(): void {
    for (const arrival of this.#arrivals.splice(0)) for (const fd of arrival.fds) this.#close(fd);
    this.#buffer = Buffer.alloc(0);
  }
}

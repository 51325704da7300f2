// `sockctl serve --control PATH`: a UNIX stream socket that takes commands, one JSON line
// each way per connection: {"command":"reload"} → the reload's receipt, once it has ended;
// {"command":"status"} → the supervisor's status; {"command":"scale","workers":N}. Made
// 0600 before bind; its directory must not be writable by group or others (not even
// sticky: a socket that takes commands lives in a private directory);
// every peer is checked by SO_PEERCRED: this uid or root. Nobody else can ask for anything.
import net from 'node:net';
import { binding } from '../core/binding';
import { checkPrivateDirectory } from '../core/paths';
import { fdOf } from '../core/target';
import { ListeningDescriptor } from '../listen/listener';
import { ownedByBinding } from '../core/descriptor';
import { openListener, rememberUnixFile, removeUnixPath } from './listeners';

export type ControlRequest = { command: 'reload' } | { command: 'status' } | { command: 'scale'; workers: number };

/** Answers one request; what it returns is sent back as JSON. */
export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

const MAX_REQUEST = 4096;

function parseRequest(line: string): ControlRequest {
  const value = JSON.parse(line) as Record<string, unknown>;
  if (value === null || typeof value !== 'object') throw new Error('a request is a JSON object');
  if (value.command === 'reload' || value.command === 'status') return { command: value.command };
  if (value.command === 'scale' && Number.isInteger(value.workers) && (value.workers as number) >= 1 && (value.workers as number) <= 1024) {
    return { command: 'scale', workers: value.workers as number };
  }
  throw new Error(`unknown request ${JSON.stringify(line.slice(0, 80))}`);
}

export class ControlServer {
  readonly path: string;
  readonly #server: net.Server;
  readonly #listener: ListeningDescriptor;

  private constructor(path: string, server: net.Server, listener: ListeningDescriptor) {
    this.path = path;
    this.#server = server;
    this.#listener = listener;
  }

  /**
   * Listens at `path` (a stale socket file there is replaced; a live one or another file is
   * refused), or on `existing`, the socket a replaced supervisor handed over.
   */
  static async open(path: string, handler: ControlHandler, existing?: ListeningDescriptor): Promise<ControlServer> {
    checkPrivateDirectory(path, 'control', { sticky: false });
    const listener = existing ?? (await openListener({ kind: 'unix', name: 'control', path, mode: 0o600, backlog: 16 }, 0, false));
    if (existing !== undefined) rememberUnixFile(path, existing);
    const uid = process.geteuid?.() ?? 0;
    const server = net.createServer((socket) => {
      const peer = binding.peerCredentials(fdOf(socket));
      if (peer.uid !== uid && peer.uid !== 0) {
        socket.end(`${JSON.stringify({ error: `uid ${peer.uid} may not control this supervisor (uid ${uid})` })}\n`);
        return;
      }
      let text = '';
      socket.setEncoding('utf8');
      socket.on('error', () => {}); // a client that went away: nothing to tell
      socket.on('data', (chunk: string) => {
        text += chunk;
        const end = text.indexOf('\n');
        if (end === -1 && text.length <= MAX_REQUEST) return;
        socket.removeAllListeners('data');
        socket.pause();
        let request: ControlRequest;
        try {
          if (end === -1) throw new Error(`a request is one line of at most ${MAX_REQUEST} bytes`);
          request = parseRequest(text.slice(0, end));
        } catch (error) {
          socket.end(`${JSON.stringify({ error: (error as Error).message })}\n`);
          return;
        }
        handler(request).then(
          (answer) => socket.end(`${JSON.stringify(answer)}\n`),
          (error: Error) => socket.end(`${JSON.stringify({ error: error.message })}\n`),
        );
      });
    });
    server.listen({ fd: listener.release() }); // the server owns it from here
    server.unref(); // the supervisor's life is its own, not the control socket's
    return new ControlServer(path, server, listener);
  }

  /** A duplicate of the listening socket, for the next supervisor. */
  duplicate(): ListeningDescriptor {
    return ownedByBinding(binding.dup(fdOf(this.#server)), (fd) => new ListeningDescriptor(fd, { address: this.path, family: 'unix', port: 0 }, 16));
  }

  /** Stops answering; the socket file is removed unless the next supervisor has it now. */
  close(options: { handedOver?: boolean } = {}): void {
    this.#server.close();
    if (options.handedOver !== true) removeUnixPath(this.path, this.#listener);
  }
}

/** Sends one request to the supervisor at `path` and resolves with its answer. */
export function controlRequest(path: string, request: ControlRequest, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer from ${path} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch {
        reject(new Error(`${path} answered something that is not JSON: ${JSON.stringify(text.slice(0, 80))}`));
      }
    });
  });
}

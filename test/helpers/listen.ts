// Clients and child processes for the listener tests.
import { spawn, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { ssRows, type SsRow } from './ss';

import { DIST_INDEX, ensureBuilt } from './dist';
import { readableCopy } from './readable-copy';

// Child processes load the built package: dist/ is brought up to date with lib/ first.
ensureBuilt();

const tracked: net.Server[] = [];

/** Remembers a server for closeTracked(), and returns it. */
export function track<S extends net.Server>(server: S): S {
  tracked.push(server);
  return server;
}

/** For afterEach: closes every tracked server that still listens. */
export async function closeTracked(): Promise<void> {
  for (const server of tracked.splice(0)) if (server.listening) await new Promise((r) => server.close(r));
}

export const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port;

/** A tracked server that answers each connection with `text` and closes it (client resets ignored). */
export const greeter = (text: string): net.Server => track(net.createServer((socket) => socket.on('error', () => {}).end(text)));

/** Connects and resolves with everything the server sends until it closes. */
export async function readAll(port: number, host = '127.0.0.1'): Promise<string> {
  const socket = net.connect({ port, host });
  let data = '';
  for await (const chunk of socket) data += String(chunk);
  return data;
}

/** One GET on a fresh connection; resolves with the body. */
export async function httpGet(port: number, host = '127.0.0.1'): Promise<string> {
  const request = http.get({ host, port, agent: false });
  const [response] = (await once(request, 'response')) as [http.IncomingMessage];
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk as string;
  return body;
}

/** Connects and resolves with the error code, or 'connected'. */
export async function tryConnect(port: number, host: string): Promise<string> {
  const socket = net.connect({ port, host });
  try {
    await once(socket, 'connect');
    return 'connected';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  } finally {
    socket.destroy();
  }
}

/** The LISTEN rows `ss` shows with this local port. */
export function listenRows(port: number): SsRow[] {
  return ssRows(port).filter((row) => row.state === 'LISTEN' && row.localPort === port);
}

let readableCopyDist: string | undefined;

/**
 * What a child of another uid needs to load the package (readableCopy), copied once per
 * test file and removed at exit: the checkout itself may be in a 0700 directory. Returns
 * its dist/index.js.
 */
export function readableDist(): string {
  if (readableCopyDist === undefined) {
    const copy = readableCopy();
    process.once('exit', copy.remove);
    readableCopyDist = copy.dist;
  }
  return readableCopyDist as string;
}

/**
 * A long-running `node -e script` (or `node file.js`); resolves once it prints its first
 * line. With `uid` set, the child loads the package from readableDist() and starts in / .
 */
export async function startNode(script: string, options: SpawnOptions = {}) {
  const args = script.endsWith('.js') ? [script] : ['-e', script];
  const asOther = options.uid !== undefined && options.uid !== process.getuid?.();
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    ...(asOther ? { cwd: '/' } : {}),
    ...options,
    env: { ...process.env, ...options.env, SOCKCTL_DIST: asOther ? readableDist() : DIST_INDEX },
  });
  let buffered = '';
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end !== -1) resolve(buffered.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing: ${buffered}`)));
  });
  const ready = await firstLine;
  return {
    child,
    ready,
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}

// wrk (Debian's), the outside load generator: run until stopped (SIGINT makes it print its
// summary), and its counts read from that summary.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';

export const hasWrk = spawnSync('wrk', ['--version']).error === undefined;

export interface WrkSummary {
  requests: number;
  /** connect + read + write + timeout, as wrk's "Socket errors" line says (0 when absent). */
  socketErrors: number;
  nonSuccess: number;
  text: string;
}

export function parseWrk(text: string): WrkSummary {
  const requests = /(\d+) requests in/.exec(text);
  if (requests === null) throw new Error(`wrk printed no summary:\n${text}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(requests[1]),
    socketErrors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    nonSuccess: non === null ? 0 : Number(non[1]),
    text,
  };
}

/** wrk against `url` for at most `maxSeconds`; stop() ends it early (SIGINT) and reads its summary. */
export function startWrk(url: string, options: { connections?: number; close?: boolean; maxSeconds?: number } = {}) {
  // A slow answer on a loaded test machine is not a lost one: wrk's timeout well above its 2 s default.
  const args = ['-t2', `-c${options.connections ?? 8}`, `-d${options.maxSeconds ?? 60}s`, '--timeout', '10s', ...(options.close ? ['-H', 'Connection: close'] : []), url];
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = once(child, 'exit');
  const started = Date.now();
  return {
    async stop(): Promise<WrkSummary> {
      // wrk installs its SIGINT handler only after its threads and Lua states are up: a SIGINT
      // before that kills it with its summary unprinted, so give it a second first.
      const early = 1000 - (Date.now() - started);
      if (early > 0) await new Promise((resolve) => setTimeout(resolve, early));
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
      if (!/requests in/.test(text)) throw new Error(`wrk (exit ${child.exitCode}, signal ${child.signalCode}) printed no summary:\n${text}`);
      return parseWrk(text);
    },
  };
}

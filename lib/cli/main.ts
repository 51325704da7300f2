#!/usr/bin/env node
// The `sockctl` command: one module per subcommand, dispatched here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLabCommand } from './lab';
import { runReload, runStatus } from './control';
import { runServe } from './serve';
import { runStates } from './states';
import { runWhy } from './why';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  lab: { summary: 'every state of the TCP diagram reproduced on loopback, as the kernel reports it', run: runLabCommand },
  reload: { summary: 'reload a sockctl serve --control PATH and wait for its receipt (exit 1 when it failed)', run: runReload },
  serve: { summary: 'run a server on sockets held here (systemd protocol); SIGHUP reloads with nothing dropped', run: runServe },
  status: { summary: 'the generation, workers and listeners of a sockctl serve --control PATH', run: runStatus },
  states: { summary: 'the TCP sockets of a port and their states (netstat -anp | grep PORT, in-process)', run: runStates },
  why: { summary: 'why a port is busy: could a listener bind there now, every cause with evidence and fix', run: runWhy },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: sockctl <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nsockctl <command> --help for a command's options; sockctl --version.\n`;
}

/** The version of the package this command belongs to (dist/cli/ -> package.json). */
function version(): string {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`sockctl ${version()}\n`);
    return 0;
  }
  // Own names only: 'constructor' or 'toString' are no commands.
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`sockctl: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

if (require.main === module) {
  // A reader that goes away (`sockctl lab | head`) ends the output quietly, as SIGPIPE ends
  // ss or netstat, for every command; the exit status still says how the command went.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') process.stderr.write(`sockctl: ${error.message}\n`);
  });
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`sockctl: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

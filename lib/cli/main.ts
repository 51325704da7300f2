#!/usr/bin/env node
// The `sockctl` command: one module per subcommand, dispatched here.
import { runDemo } from './demo';
import { runStates } from './states';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  demo: { summary: 'half-close, close against shutdown on a dup, SO_LINGER 0, on loopback', run: runDemo },
  states: { summary: 'the TCP sockets of a port and their states (netstat -anp | grep PORT, in-process)', run: runStates },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: sockctl <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nsockctl <command> --help for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`sockctl: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`sockctl: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

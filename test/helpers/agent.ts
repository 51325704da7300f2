// A child process (python3) that inherited a socket as its fd 3 and sends or receives on
// it when told to: the other process of the close-against-shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const SCRIPT = `
import errno, select, socket, sys
s = socket.socket(fileno=3)
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    try:
        if cmd == "send":
            s.send(arg.encode())
            print("sent", flush=True)
        elif cmd == "recv":
            ready, _, _ = select.select([s], [], [], 5)
            print("data " + (s.recv(4096).decode() if ready else "<timeout>"), flush=True)
    except OSError as e:
        print("error " + errno.errorcode[e.errno], flush=True)
`;

export interface Agent {
  /** Sends a command and resolves with the child's one-line answer. */
  ask(command: string): Promise<string>;
  stop(): Promise<void>;
}

export function spawnAgent(fd: number): Agent {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit', fd] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async ask(command) {
      child.stdin!.write(`${command}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`agent exited before answering ${command}`);
      return next.value;
    },
    async stop() {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

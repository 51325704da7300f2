// python3 at the other end of an AF_UNIX stream socket, speaking sockctl's frames with
// socket.send_fds / socket.recv_fds: the independent peer of the SCM_RIGHTS tests.
// Commands on stdin, one line each; answers on stdout, one JSON line each.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const SCRIPT = String.raw`
import json, os, select, socket, struct, sys
conn = None
listener = None
held = []
def frame(payload, n):
    return bytes([0x46, n]) + struct.pack(">H", len(payload)) + payload
def answer(**kw):
    print(json.dumps(kw), flush=True)
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    try:
        if cmd == "listen":
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(arg); listener.listen(4); answer(ok=True)
        elif cmd == "accept":
            conn, _ = listener.accept(); answer(ok=True)
        elif cmd == "connect":
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); conn.connect(arg); answer(ok=True)
        elif cmd == "recvframe":
            msg, fds, flags, _ = socket.recv_fds(conn, 65539, 16)
            n, length = msg[1], struct.unpack(">H", msg[2:4])[0]
            held.extend(fds)
            answer(magic=msg[0], count=n, payload=msg[4:4 + length].decode(), fds=len(fds), ctrunc=bool(flags & socket.MSG_CTRUNC),
                   cloexec=[not os.get_inheritable(fd) for fd in fds])
        elif cmd == "serve":
            # accept on the received listener and answer each connection, until told or failed
            s = socket.socket(fileno=held[0]); s.setblocking(True)
            c, _ = s.accept(); c.sendall(b"from python"); c.close(); answer(ok=True)
        elif cmd == "accept-after":
            s = socket.socket(fileno=os.dup(held[0])); s.settimeout(3)
            try:
                c, _ = s.accept(); c.sendall(b"from python"); c.close(); answer(result="accepted")
            except OSError as e:
                answer(result=os.strerror(e.errno) if e.errno else str(e), errno=e.errno)
            finally:
                s.close()
        elif cmd == "sendlistener":
            # a new TCP listener on 127.0.0.1, sent in one frame with its name
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
            payload = json.dumps({"port": l.getsockname()[1]}).encode()
            socket.send_fds(conn, [frame(payload, 1)], [l.fileno()]); answer(port=l.getsockname()[1], ino=os.fstat(l.fileno()).st_ino)
            held.append(l)
        elif cmd == "sendmany":
            # one frame that says 5 and carries 5 (UDP sockets)
            socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
            socket.send_fds(conn, [frame(b"five", 5)], [s.fileno() for s in socks])
            for s in socks: s.close()
            answer(ok=True)
        elif cmd == "sendjoined":
            # a frame without descriptors, then one with: they may arrive in one read
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
            conn.sendall(frame(b"first", 0))
            socket.send_fds(conn, [frame(b"second", 1)], [l.fileno()])
            l.close(); answer(ok=True)
        elif cmd == "sendframe":
            conn.sendall(frame(arg.encode(), 0)); answer(ok=True)
        elif cmd == "sendudp":
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
            socket.send_fds(conn, [frame(arg.encode(), 1)], [u.fileno()]); u.close(); answer(ok=True)
        elif cmd == "sendraw":
            conn.sendall(bytes.fromhex(arg)); answer(ok=True)
        elif cmd == "sendwrongcount":
            l = socket.socket(); socket.send_fds(conn, [frame(b"says two", 2)], [l.fileno()]); l.close(); answer(ok=True)
        elif cmd == "sendorphan":
            # descriptors on a byte in the middle of a frame's payload
            l = socket.socket()
            conn.sendall(bytes([0x46, 0]) + struct.pack(">H", 10) + b"abcde")
            import time; time.sleep(0.3)  # read apart from what follows (the reader is waiting)
            socket.send_fds(conn, [b"fghij"], [l.fileno()]); l.close(); answer(ok=True)
        elif cmd == "shutdownheld":
            s = socket.socket(fileno=held[0]); s.shutdown(socket.SHUT_RD); s.close(); held.clear(); answer(ok=True)
        elif cmd == "closeheld":
            os.close(held[0]); held.clear(); answer(ok=True)
        elif cmd == "close":
            conn.close(); answer(ok=True)
        elif cmd == "pid":
            answer(pid=os.getpid())
    except OSError as e:
        answer(error=e.errno, text=str(e))
`;

export interface FdPeer {
  pid: number;
  ask(command: string): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

export function spawnFdPeer(): FdPeer {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    pid: child.pid!,
    async ask(command) {
      child.stdin!.write(`${command}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`python exited before answering ${command}`);
      return JSON.parse(next.value) as Record<string, any>;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}

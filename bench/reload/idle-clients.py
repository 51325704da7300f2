# N keep-alive connections for bench/reload.mjs's handover timing: one request each, then
# "ready"; on a line from stdin, N fresh connections with one request each (what a reload
# that closes them would cost the clients), then the N kept ones ask again.
import resource, socket, sys, time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, n = int(sys.argv[1]), int(sys.argv[2])

def ask(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while not (b"\r\n\r\n" in got and got.endswith(b"\n")):
        chunk = s.recv(4096)
        if not chunk:
            return False
        got += chunk
    return True

conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
assert all(ask(s) for s in conns)
print("ready", flush=True)
sys.stdin.readline()
started = time.time()
fresh = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
ok = sum(ask(s) for s in fresh)
print("reconnect %.1f %d" % ((time.time() - started) * 1000, ok), flush=True)
for s in fresh:
    s.close()
print("kept answered %d" % sum(ask(s) for s in conns), flush=True)

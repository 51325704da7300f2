// A second, independent reader: python3 calling getsockopt on a socket it inherited as fd 3.
import { execFileSync } from 'node:child_process';

const SCRIPT = `
import json, socket, sys
s = socket.socket(fileno=3)
levels = {"SO": socket.SOL_SOCKET, "TCP": socket.IPPROTO_TCP, "IP": socket.IPPROTO_IP, "IPV6": socket.IPPROTO_IPV6}
out = {name: s.getsockopt(levels[name.split("_")[0]], getattr(socket, name)) for name in sys.argv[1:]}
s.detach()
print(json.dumps(out))
`;

/** getsockopt by python3 on `fd`, inherited by the child as its fd 3: raw integers. */
export function pythonGetsockopt(fd: number, names: string[]): Record<string, number> {
  const out = execFileSync('python3', ['-c', SCRIPT, ...names], {
    stdio: ['ignore', 'pipe', 'inherit', fd],
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<string, number>;
}

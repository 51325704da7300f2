// examples/tcp-states.js: the side that closes first ends in TIME_WAIT (here, the server).
const net = require('node:net');
const { tcpStates, waitForState } = require('sockctl');

const server = net.createServer((socket) => socket.end()).listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  net.connect(port, '127.0.0.1'); // reads the server's FIN, then closes its side too
  const [row] = await waitForState({ localPort: port }, 'TIME_WAIT', { timeoutMs: 2000 });
  console.log(row.state, row.timer.kind, row.timer.expiresMs > 55_000); // TIME_WAIT timewait true: 2MSL is 60 s
  const rows = await tcpStates({ localPort: port });
  console.log(rows.map((r) => r.state).join(' ')); // LISTEN TIME_WAIT
  server.close();
});

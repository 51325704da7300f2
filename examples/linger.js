// examples/linger.js: SO_LINGER { onoff: true, linger: 0 }: close sends RST, no TIME_WAIT.
const net = require('node:net');
const { setOption } = require('sockctl');

const server = net.createServer((peer) => {
  peer.on('error', (error) => {
    console.log('peer got', error.code); // ECONNRESET
    server.close();
  });
});
server.listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    setOption(socket, 'SO_LINGER', { onoff: true, linger: 0 });
    socket.destroy();
  });
});

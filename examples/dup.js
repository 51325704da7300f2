// examples/dup.js: close() drops one reference; shutdown() acts on the connection.
const net = require('node:net');
const { dup, shutdown } = require('sockctl');

const server = net.createServer({ allowHalfOpen: true }, (peer) => {
  peer.on('data', (data) => console.log('peer received', String(data)));
  peer.on('end', () => {
    console.log('peer read EOF');
    peer.destroy();
    server.close();
  });
});
server.listen(0, '127.0.0.1', () => {
  const socket = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true }, () => {
    const copy = dup(socket);
    copy.close(); // one reference gone: the connection goes on
    socket.write('after close(dup)', () => {
      const again = dup(socket);
      shutdown(again, 'write'); // FIN for the connection, though `socket` is still open
      again.close();
      console.log('socket still open:', !socket.destroyed);
    });
  });
  server.on('close', () => socket.destroy());
});

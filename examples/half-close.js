// examples/half-close.js: shutdown(socket, 'write') sends FIN; the peer can still send.
const net = require('node:net');
const { getOption, shutdown } = require('sockctl');

let peer;
const server = net.createServer({ allowHalfOpen: true }, (accepted) => {
  peer = accepted;
  peer.on('end', () => {
    console.log('peer read EOF, peer is', getOption(peer, 'TCP_INFO').state); // CLOSE_WAIT
    peer.write('reply after FIN');
  });
});
server.listen(0, '127.0.0.1', () => {
  const socket = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true }, () => {
    shutdown(socket, 'write');
  });
  socket.on('data', (data) => {
    console.log(`received "${data}", we are`, getOption(socket, 'TCP_INFO').state); // FIN_WAIT_2
    socket.destroy();
    peer.destroy();
    server.close();
  });
});

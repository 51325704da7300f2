// examples/options.js: socket options by their C names, set and read back.
const net = require('node:net');
const { getOption, setOption } = require('sockctl');

const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    setOption(socket, 'TCP_NODELAY', true);
    setOption(socket, 'TCP_KEEPIDLE', 30); // seconds
    setOption(socket, 'SO_RCVBUF', 65536);
    console.log('TCP_NODELAY', getOption(socket, 'TCP_NODELAY')); // true
    console.log('TCP_KEEPIDLE', getOption(socket, 'TCP_KEEPIDLE')); // 30
    console.log('SO_RCVBUF', getOption(socket, 'SO_RCVBUF')); // 131072: Linux doubles it
    console.log('TCP_INFO.state', getOption(socket, 'TCP_INFO').state); // ESTABLISHED
    console.log('SO_ACCEPTCONN', getOption(server, 'SO_ACCEPTCONN')); // true on the listener
    socket.destroy();
    server.close();
  });
});

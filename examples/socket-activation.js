// examples/socket-activation.js: a server that takes its socket from systemd (or any
// supervisor speaking the protocol), says READY=1, and drains on SIGTERM. Run alone, it
// starts itself under systemd-socket-activate on a free port and asks it once.
const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const { drain, listen, listenFds, notify } = require('sockctl');

const [web] = listenFds(); // [] when not socket-activated
if (web) {
  const server = http.createServer((req, res) => res.end(`${web.name}: ${web.type} ${web.listening ? 'listener' : ''} on ${web.address}:${web.port}`));
  listen(server, { descriptor: web }).then(() => notify('READY=1'));
  process.on('SIGTERM', () => drain(server).then(() => process.exit(0)));
} else {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => {
      const activator = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '--fdname=web', process.execPath, __filename], {
        stdio: ['ignore', 'inherit', 'ignore'],
      });
      // The first connection starts the server; until the activator listens, try again.
      const ask = () =>
        http
          .get({ host: '127.0.0.1', port }, (res) => {
            res.setEncoding('utf8').on('data', (body) => console.log(body.replace(String(port), 'PORT')));
            res.on('end', () => activator.kill('SIGTERM'));
          })
          .on('error', () => setTimeout(ask, 50));
      ask();
    });
  });
}

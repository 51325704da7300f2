// examples/serve-app.js: an HTTP server to run under `sockctl serve`, which holds the socket:
//   sockctl serve --listen http=127.0.0.1:8080 --workers 2 -- node examples/serve-app.js
//   kill -HUP <sockctl's pid>   # a new generation starts, says READY=1, the old one drains
const http = require('node:http');
const { drain, listen, listenFds, notify } = require('sockctl');

const server = http.createServer((req, res) => res.end(`hello from ${process.pid}\n`));

async function main() {
  const [descriptor] = listenFds(); // fd 3, named 'http' (LISTEN_FDNAMES)
  await listen(server, { descriptor });
  process.once('SIGTERM', () => drain(server)); // answer in-flight requests, then exit
  await notify('READY=1'); // now the supervisor stops the old generation
}

main();

// examples/http-restart.js: an HTTP server restarted on its port 5 times under continuous
// requests, each on a new connection that the server closes, so TIME_WAIT piles up there.
//   node examples/http-restart.js              # reuseAddr (the default): every restart binds
//   node examples/http-restart.js --no-reuse   # reuseAddr false: the first restart fails
//   node examples/http-restart.js --reuse-port # the new listener joins before the old closes
const http = require('node:http');
const { getOption, listen, restart } = require('sockctl');

const argv = process.argv.slice(2);
const options = argv.includes('--no-reuse') ? { reuseAddr: false } : argv.includes('--reuse-port') ? { reusePort: true } : {};
const app = (version) => http.createServer((req, res) => res.setHeader('connection', 'close').end(version));
const tally = { ok: 0, failed: {}, queued: 0 };

function request(port) {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, agent: false }, (res) => res.resume().on('end', () => resolve(tally.ok++)))
      .on('error', (error) => resolve((tally.failed[error.code] = (tally.failed[error.code] ?? 0) + 1)));
  });
}

async function main() {
  let server = await listen(app('v1'), { host: '127.0.0.1', ...options });
  const { port } = server.address();
  console.log(`v1 listening on 127.0.0.1:${port}`);
  let running = true;
  const clients = Array.from({ length: 4 }, async () => {
    while (running) await request(port);
  });
  for (let version = 2; version <= 6; version++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A listener's TCP_INFO `unacked` is its accept queue: connections the kernel has
    // completed and Node has not accepted yet. Closing the old listener resets them.
    const queued = getOption(server, 'TCP_INFO').unacked;
    try {
      server = await restart(server, app(`v${version}`), options);
      tally.queued += queued;
      console.log(`restart to v${version}: listening`);
    } catch (error) {
      console.log(`restart to v${version}: ${error.code} (${error.syscall})`);
      break;
    }
  }
  running = false;
  await Promise.all(clients);
  server.close();
  const failed = Object.values(tally.failed).reduce((sum, n) => sum + n, 0);
  console.log(`requests: ${tally.ok} ok, ${failed} failed ${JSON.stringify(tally.failed)}`);
  console.log(`in the old accept queues at close: ${tally.queued}`);
}

main();

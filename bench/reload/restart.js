// The in-process baseline of bench/reload.mjs: one Node process whose SIGHUP is restart()
// (a new listener on the same port; the old accept queue is reset when it closes).
const http = require('node:http');
const sockctl = require('../..');

let generation = 1;
const app = () => {
  const body = `ok ${generation}\n`;
  return http.createServer((req, res) => res.end(body));
};

async function main() {
  let server = await sockctl.listen(app(), { host: '127.0.0.1' });
  console.log(`listening ${server.address().port}`);
  let busy = Promise.resolve();
  process.on('SIGHUP', () => {
    busy = busy.then(async () => {
      generation++;
      server = await sockctl.restart(server, app());
      console.log(`restarted ${generation}`);
    });
  });
  process.once('SIGTERM', () => process.exit(0));
}

main();

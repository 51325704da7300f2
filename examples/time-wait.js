// examples/time-wait.js: TIME_WAIT on a server's own port, and restarts that meet it.
const http = require('node:http');
const { listen, restart, timeWaitOn } = require('sockctl');

const app = (version) => http.createServer((req, res) => res.end(version));

async function main() {
  const v1 = await listen(app('v1'), { host: '127.0.0.1' }); // SO_REUSEADDR, as Node
  const { port, timeWait } = await timeWaitOn(v1, 100); // the server closes them first
  console.log('TIME_WAIT on the port:', timeWait); // 100, as the kernel lists them
  const v2 = await restart(v1, app('v2')); // same port, SO_REUSEADDR again: binds
  console.log('v2 on the same port:', v2.address().port === port); // true
  try {
    await restart(v2, app('v3'), { reuseAddr: false }); // v1's TIME_WAIT is still there
  } catch (error) {
    console.log('v3 without SO_REUSEADDR:', error.message.replace(String(port), 'PORT')); // bind EADDRINUSE
  }
}

main();

// examples/takeover.js: every start of this program takes the listener over from the
// version running before it: `node examples/takeover.js v1`, later `... v2`. Run alone,
// it starts v1, then v2 of itself, and asks each what it is.
const { spawn } = require('node:child_process');
const http = require('node:http');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { takeover } = require('sockctl');

const path = process.argv[3] ?? join(tmpdir(), `sockctl-example-${process.pid}.sock`);

async function serve(version) {
  const t = await takeover({ path, listeners: { web: { host: '127.0.0.1', port: 0 } } });
  const server = await t.listen('web', http.createServer((req, res) => res.end(version)));
  await t.ready(); // the previous version (if any) closes its copy and drains now
  console.log(`${version} on port ${server.address().port}`);
  await t.replaced(); // a newer version is ready, and this one has drained
  process.exit(0);
}

const ask = (port) => new Promise((resolve) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => res.setEncoding('utf8').on('data', resolve)));
const start = (version) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [__filename, version, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8').once('data', (line) => resolve({ child, port: Number(line.split(' ').at(-1)) }));
  });

async function demo() {
  const v1 = await start('v1');
  console.log('v1 answers:', await ask(v1.port));
  const v2 = await start('v2');
  v1.child.on('exit', async (code) => {
    console.log('v1 exited:', code, '| same port:', v2.port === v1.port, '| v2 answers:', await ask(v2.port));
    v2.child.kill();
    require('node:fs').rmSync(path, { force: true });
  });
}

if (process.argv[2]) serve(process.argv[2]);
else demo();

// Node's cluster for bench/reload.mjs: the primary holds the port and hands connections to
// its workers round-robin; SIGHUP replaces the workers one by one (fork the new one, wait
// for it to listen, then the old one drains as app.js does). BENCH_WORKERS workers.
const cluster = require('node:cluster');
const fs = require('node:fs');
const http = require('node:http');
const { join } = require('node:path');

if (cluster.isPrimary) {
  const count = Number(process.env.BENCH_WORKERS ?? 2);
  const port = Number(process.env.BENCH_PORT);
  let generation = 1;
  const fork = () =>
    new Promise((resolve) => {
      const worker = cluster.fork({ BENCH_GENERATION: String(generation), BENCH_PORT: String(port) });
      worker.once('listening', () => resolve(worker));
    });
  (async () => {
    let workers = [];
    for (let i = 0; i < count; i++) workers.push(await fork());
    console.log(`listening ${port}`);
    let busy = Promise.resolve();
    process.on('SIGHUP', () => {
      busy = busy.then(async () => {
        generation++;
        const next = [];
        for (const old of workers) {
          next.push(await fork());
          old.send('drain');
        }
        workers = next;
        console.log(`replaced ${generation}`);
      });
    });
    process.once('SIGTERM', async () => {
      for (const w of Object.values(cluster.workers)) w.send('drain');
      await new Promise((resolve) => cluster.on('exit', () => Object.keys(cluster.workers).length === 0 && resolve()));
      process.exit(0);
    });
  })();
} else {
  const sockctl = require('../..');
  let answered = 0;
  const body = `ok ${process.env.BENCH_GENERATION}\n`;
  const server = http.createServer((req, res) => {
    answered++;
    res.end(body);
  });
  server.listen(Number(process.env.BENCH_PORT), '127.0.0.1');
  process.on('message', async (message) => {
    if (message !== 'drain') return;
    await sockctl.drain(server, { timeoutMs: 5000 });
    if (process.env.BENCH_COUNTS) fs.writeFileSync(join(process.env.BENCH_COUNTS, String(process.pid)), String(answered));
    process.exit(0);
  });
}

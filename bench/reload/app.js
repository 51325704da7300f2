// The server every `sockctl serve` row of bench/reload.mjs runs: HTTP on listenFds(), READY=1
// by notify(), a keep-alive-safe drain on SIGTERM; on exit it writes how many requests it
// answered to BENCH_COUNTS (one file per process), for the spread across workers.
const fs = require('node:fs');
const http = require('node:http');
const { join } = require('node:path');
const sockctl = require('../..');

let answered = 0;
const body = `ok ${process.env.SOCKCTL_GENERATION}\n`;
const server = http.createServer((req, res) => {
  answered++;
  res.end(body);
});

// BENCH_KEEPALIVE_MS: above a proxy's upstream keepalive_timeout, so that ordinary idle
// closes do not mix with the reloads' (the nginx row).
if (process.env.BENCH_KEEPALIVE_MS) server.keepAliveTimeout = Number(process.env.BENCH_KEEPALIVE_MS);

function saveCount() {
  if (process.env.BENCH_COUNTS) fs.writeFileSync(join(process.env.BENCH_COUNTS, String(process.pid)), String(answered));
}

async function main() {
  const [descriptor] = sockctl.listenFds();
  await sockctl.listen(server, { descriptor });
  process.once('SIGTERM', async () => {
    await sockctl.drain(server, { timeoutMs: 5000 });
    saveCount();
    process.exit(0);
  });
  await sockctl.notify('READY=1');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

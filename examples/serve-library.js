// examples/serve-library.js: the supervisor behind `sockctl serve`, from code. It runs
// examples/serve-app.js on a port the kernel picks, reloads it, scales it, and stops.
const http = require('node:http');
const { join } = require('node:path');
const { serve } = require('sockctl');

const get = (port) => new Promise((resolve) => http.get({ host: '127.0.0.1', port }, (res) => res.resume().on('end', () => resolve(res.statusCode))));

async function main() {
  const s = await serve({ listen: ['http=127.0.0.1:0'], command: [process.execPath, join(__dirname, 'serve-app.js')] });
  console.log('answers:', await get(s.ports[0]));
  const receipt = await s.reload(); // once the new generation is ready and the old one has drained
  console.log('reload ok:', receipt.ok, '| generation:', receipt.generation, '| queued connections lost:', receipt.lost.queued);
  console.log('workers:', await s.scale(2));
  await s.stop();
}

main();

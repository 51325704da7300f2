// examples/worker.js: what a worker owned is closed when the worker ends, even by terminate().
const net = require('node:net');
const { Worker } = require('node:worker_threads');

const worker = new Worker(`
  const { parentPort } = require('node:worker_threads');
  const { createListener } = require('sockctl');
  // Never closed by the worker:
  createListener({ host: '127.0.0.1' }).then((listener) => parentPort.postMessage(listener.address.port));
`, { eval: true });

worker.once('message', async (port) => {
  await worker.terminate();
  net.connect(port, '127.0.0.1')
    .on('connect', function () {
      console.log('still listening');
      this.destroy();
    })
    .on('error', (error) => console.log('after terminate():', error.code)); // the listener is closed
});

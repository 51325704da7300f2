// examples/fd-passing.js: the low-level pair. This process sends a listening socket with
// a message over a UNIX socket (SCM_RIGHTS); a second process receives it, owned and
// close-on-exec, and serves on it. The socket is the same one: nothing is re-bound.
const { spawn } = require('node:child_process');
const http = require('node:http');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { createListener, FdChannel, listen, listenUnix } = require('sockctl');

async function receiver(path) {
  const channel = FdChannel.connect(path);
  const { message, descriptors } = await channel.receive();
  const server = http.createServer((req, res) => res.end(`served by the receiver on "${message}"`));
  await listen(server, { descriptor: descriptors[0] });
  channel.close();
}

async function sender() {
  const path = join(tmpdir(), `sockctl-fd-passing-${process.pid}.sock`);
  const listener = await createListener({ host: '127.0.0.1' });
  const offer = FdChannel.serve(listenUnix(path), async (channel) => {
    await channel.send('web', [listener]); // the kernel gives the receiver its own descriptor
    console.log('peer pid matches:', channel.peerCredentials().pid === child.pid);
    listener.close(); // ours only: the receiver's copy keeps the socket listening
    channel.close();
    offer.close();
    // Queued by the kernel until the receiver serves: the socket listens all along.
    http.get({ host: '127.0.0.1', port: listener.address.port }, (res) => {
      res.setEncoding('utf8').on('data', (body) => console.log(body));
      res.on('end', () => child.kill());
    });
  });
  const child = spawn(process.execPath, [__filename, path], { stdio: 'inherit' });
  child.on('exit', () => require('node:fs').rmSync(path, { force: true }));
}

if (process.argv[2]) receiver(process.argv[2]);
else sender();

// examples/move-connection.js: a connection moved to another process mid-conversation. This
// process answers the client's first line, then hands the socket (and a state blob) to a
// second process over a UNIX socket; the client's second line waits in the kernel and is
// answered there. The client sees one connection: no FIN, no reset, no new handshake.
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { FdChannel, listenUnix, receiveConnection, sendConnection } = require('sockctl');

async function receiver(path) {
  const channel = FdChannel.connect(path);
  const { socket, state } = await receiveConnection(channel);
  const [line] = await once(socket, 'data');
  socket.end(`${state.greeting} again, ${line}`);
  channel.close();
}

async function sender() {
  const dir = mkdtempSync(join(tmpdir(), 'sockctl-move-'));
  let offer;
  const channel = new Promise((resolve) => (offer = FdChannel.serve(listenUnix(join(dir, 'move.sock')), resolve)));
  const child = spawn(process.execPath, [__filename, join(dir, 'move.sock')], { stdio: 'inherit' });
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = net.connect(server.address().port, '127.0.0.1');
  const [socket] = await accepted;
  client.write('one');
  const [line] = await once(socket, 'data');
  await new Promise((resolve) => socket.write(`hello, ${line}`, resolve));
  console.log('first answer:', String((await once(client, 'data'))[0]));

  const toReceiver = await channel;
  await sendConnection(toReceiver, socket, { state: { greeting: 'hello' } }); // our copy is closed
  client.write('two'); // waits in the kernel until the other process reads
  console.log('second answer:', String((await once(client, 'data'))[0]), '| same connection:', !client.destroyed);
  client.end();
  toReceiver.close();
  offer.close();
  server.close();
  await once(child, 'exit');
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2]) receiver(process.argv[2]);
else sender();

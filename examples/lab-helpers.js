// examples/lab-helpers.js: the lab's building blocks, for your own tests.
const { fillSendQueue, getOption, halfClosedPair, loopbackPair, shutdown, waitForState } = require('sockctl');

async function main() {
  const half = await halfClosedPair(); // client FIN_WAIT_2, accepted end CLOSE_WAIT
  console.log('half-closed:', getOption(half.client, 'TCP_INFO').state, getOption(half.accepted, 'TCP_INFO').state);
  await half.close();

  const pair = await loopbackPair('127.0.0.1', { paused: true }); // neither end reads
  fillSendQueue(pair.client); // to the byte: a FIN sent now has to wait
  shutdown(pair.client, 'write');
  const [row] = await waitForState({ localPort: pair.client.localPort, remotePort: pair.port }, 'FIN_WAIT_1');
  console.log('held in', row.state); // until the peer reads
  await pair.close();
}

main();

// examples/why-in-use.js: why is the port busy? The EADDRINUSE says, and whyInUse() asks first.
const net = require('node:net');
const { listen, timeWaitOn, whyInUse } = require('sockctl');

async function main() {
  const old = await listen(net.createServer(), { host: '127.0.0.1' }); // SO_REUSEADDR, as Node
  const { port } = await timeWaitOn(old, 3); // 3 connections the server closed first
  await new Promise((resolve) => old.close(resolve));
  try {
    await listen(net.createServer(), { host: '127.0.0.1', port, reuseAddr: false });
  } catch (error) {
    const [cause] = error.causes; // computed when the bind failed
    console.log(error.code, cause.kind, cause.count); // EADDRINUSE time-wait 3
    console.log('old socket:', cause.oldOptions); // the TIME_WAITs kept its SO_REUSEADDR
    console.log('fix:', cause.fix);
  }
  const why = await whyInUse({ host: '127.0.0.1', port, reuseAddr: false });
  console.log('binds now:', why.canBind, '| would bind with:', Object.keys(why.wouldBind).filter((k) => why.wouldBind[k]).join(', '));
}

main();

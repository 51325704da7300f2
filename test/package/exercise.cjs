// Calls every export of the installed package once on real loopback sockets, shared by the
// require() and import smoke programs. A new export must be added here, or the check fails.
'use strict';
const assert = require('node:assert/strict');
const { once } = require('node:events');
const net = require('node:net');

const EXPORTS = [
  'ListeningDescriptor', 'OPTIONS', 'OwnedDescriptor', 'connect', 'constants', 'createListener', 'dup', 'fdOf', 'fillSendQueue', 'getOption',
  'halfClosedPair', 'listen', 'loopbackPair', 'renderStateDiagram', 'restart', 'runLab', 'setOption', 'shutdown', 'socket',
  'tcpStates', 'tcpStatesSync', 'timeWaitOn', 'waitForState', 'watchStates', 'StateWatch',
  'FdChannel', 'LISTEN_FDS_START', 'SystemdDescriptor', 'TAKEOVER_PROTOCOL', 'Takeover', 'drain', 'listenFds', 'listenUnix', 'notify', 'takeover',
  'serve', 'ServeHandle', 'whyInUse', 'sendConnection', 'receiveConnection', 'destroySocket', 'unixSockets', 'unixSocketsSync',
];

async function exercise(s, how) {
  // import's namespace of a CommonJS module also has 'default', and on Node 23+ 'module.exports'.
  const names = Object.keys(s).filter((k) => !['default', '__esModule', 'module.exports'].includes(k));
  assert.deepEqual(names.sort(), [...EXPORTS].sort(), `${how}: the exports`);

  const server = net.createServer({ allowHalfOpen: true }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true });
  await once(client, 'connect');
  const [peer] = await accepted;

  assert.equal(typeof s.fdOf(client), 'number');
  s.setOption(client, 'TCP_NODELAY', true);
  assert.equal(s.getOption(client, 'TCP_NODELAY'), true);
  assert.equal(s.getOption(client, 'TCP_INFO').state, 'ESTABLISHED');
  assert.equal(s.OPTIONS.SO_REUSEPORT.level, 'SOL_SOCKET');
  assert.equal(s.constants.SHUT_WR, 1);

  const copy = s.dup(client);
  assert.ok(copy instanceof s.OwnedDescriptor);
  const eof = once(peer, 'end');
  s.shutdown(copy, 'write');
  await eof;
  copy.close();

  const fresh = s.socket('ipv6');
  s.setOption(fresh, 'IPV6_V6ONLY', true);
  assert.equal(s.getOption(fresh, 'IPV6_V6ONLY'), true);
  fresh.close();

  assert.throws(() => s.setOption(client, 'SO_NOPE', 1), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });

  const tuple = { localPort: client.localPort, remotePort: server.address().port };
  const [row] = await s.waitForState(tuple, 'FIN_WAIT_2', { timeoutMs: 2000 });
  assert.equal(row.state, 'FIN_WAIT_2');
  assert.deepEqual((await s.tcpStates(tuple)).map((r) => r.state), ['FIN_WAIT_2']);
  assert.equal(s.tcpStatesSync({ ...tuple, source: 'proc' })[0].state, 'FIN_WAIT_2');
  assert.throws(() => s.tcpStatesSync({ port: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  const watch = s.watchStates(tuple, { initial: true });
  assert.ok(watch instanceof s.StateWatch && ['tracepoint', 'poll'].includes(watch.source));
  const { value: change } = await watch.next();
  assert.equal(change.to, 'FIN_WAIT_2');
  assert.equal(change.from, null);
  watch.close();
  // destroySocket: a cookie no socket has names none (ENOENT, with or without the capability);
  // under qemu-user there is no sock_diag at all (EPROTONOSUPPORT from socket()).
  assert.throws(() => s.destroySocket({ ...row, cookie: '1' }), (e) =>
    (e.code === 'ENOENT' && e.syscall === 'sock_destroy') || (e.code === 'EPROTONOSUPPORT' && e.syscall === 'socket'));
  // UNIX sockets: arrays of rows where sock_diag exists; under qemu-user, which has none, a
  // system error from socket() (EPROTONOSUPPORT), sync and async alike.
  const noDiag = (e) => e.code === 'EPROTONOSUPPORT' && e.syscall === 'socket';
  try {
    assert.ok(Array.isArray(s.unixSocketsSync()) && Array.isArray(await s.unixSockets()));
  } catch (error) {
    if (!noDiag(error)) throw error;
    await assert.rejects(s.unixSockets(), noDiag);
  }
  assert.deepEqual(await watch.next(), { value: undefined, done: true });
  client.destroy();
  peer.destroy();
  server.close();

  // The listener: listen, timeWaitOn, restart, createListener.
  const v1 = await s.listen(net.createServer(), { host: '127.0.0.1', reuseAddr: false, backlog: 64 });
  assert.equal(s.getOption(v1, 'SO_REUSEADDR'), false);
  const { port, timeWait } = await s.timeWaitOn(v1, 2);
  assert.equal(timeWait, 2);
  await assert.rejects(s.restart(v1, net.createServer()), { code: 'EADDRINUSE', syscall: 'bind', port });
  const listener = await s.createListener({ host: '127.0.0.1' });
  assert.ok(listener instanceof s.ListeningDescriptor && listener instanceof s.OwnedDescriptor);
  assert.equal(s.getOption(listener, 'SO_ACCEPTCONN'), true);
  // whyInUse: the port of a live listener is busy, and that listener is the cause.
  const why = await s.whyInUse({ host: '127.0.0.1', port: listener.address.port });
  assert.equal(why.canBind, false);
  assert.ok(why.causes.some((cause) => cause.kind === 'listener' && cause.sockets[0].pid === process.pid), JSON.stringify(why.causes));
  listener.close();

  // connect(): options before the SYN, a Node-shaped refusal.
  const target = net.createServer((c) => c.on('error', () => {}).end('hi')).listen(0, '127.0.0.1');
  await once(target, 'listening');
  const c = await s.connect({ host: '127.0.0.1', port: target.address().port, sockopts: { SO_RCVBUF: 4096 } });
  assert.ok(c instanceof net.Socket);
  // Under qemu-user TCP_INFO is 4 bytes (the state only): the window scale is absent there.
  const info = s.getOption(c, 'TCP_INFO');
  assert.equal(info.rcvWscale, process.arch === 'arm64' && info.rcvWscale === undefined ? undefined : 0);
  c.destroy();
  const refused = target.address().port;
  await new Promise((resolve) => target.close(resolve));
  await assert.rejects(s.connect({ host: '127.0.0.1', port: refused }), { code: 'ECONNREFUSED', syscall: 'connect', port: refused });
  // The handover: listenFds, notify, takeover (with listen on a descriptor), drain, FdChannel.
  assert.deepEqual(s.listenFds(), []);
  assert.equal(s.LISTEN_FDS_START, 3);
  assert.equal(typeof s.SystemdDescriptor, 'function');
  const notifySocket = process.env.NOTIFY_SOCKET;
  delete process.env.NOTIFY_SOCKET;
  assert.equal(await s.notify('READY=1'), false);
  if (notifySocket !== undefined) process.env.NOTIFY_SOCKET = notifySocket;
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'sockctl-smoke-'));
  const t = await s.takeover({ path: `${dir}/t.sock`, listeners: { web: { host: '127.0.0.1' } } });
  assert.ok(t instanceof s.Takeover && s.TAKEOVER_PROTOCOL.max >= 1);
  const served = await t.listen('web', require('node:http').createServer((req, res) => res.end('ok')));
  await t.ready();
  const channel = s.FdChannel.connect(`${dir}/t.sock`);
  await channel.send(JSON.stringify({ type: 'hello', protocol: { min: 9, max: 9 } }));
  assert.equal(JSON.parse((await channel.receive()).message).code, 'EPROTO');
  channel.close();
  t.close();
  assert.deepEqual(await s.drain(served), { timedOut: false, destroyed: 0 });
  s.listenUnix(`${dir}/u.sock`).close();
  // sendConnection / receiveConnection: a connection moves between two channels' ends, its peer unaware.
  const ends = [];
  const relay = s.FdChannel.serve(s.listenUnix(`${dir}/c.sock`), (end) => ends.push(end));
  const near = s.FdChannel.connect(`${dir}/c.sock`);
  while (ends.length === 0) await new Promise((r) => setTimeout(r, 10));
  const origin = net.createServer().listen(0, '127.0.0.1');
  await once(origin, 'listening');
  const incoming = once(origin, 'connection');
  const peerClient = net.connect(origin.address().port, '127.0.0.1');
  const [acceptedHere] = await incoming;
  await s.sendConnection(near, acceptedHere, { state: { n: 1 } });
  const moved = await s.receiveConnection(ends[0]);
  assert.deepEqual(moved.state, { n: 1 });
  const reply = once(peerClient, 'data');
  moved.socket.end('moved');
  assert.equal(String((await reply)[0]), 'moved');
  peerClient.destroy();
  near.close();
  ends[0].close();
  relay.close();
  origin.close();
  require('node:fs').rmSync(dir, { recursive: true, force: true });

  // serve(): a supervised worker answers, a reload's receipt says it lost nothing.
  const app = 'require("node:http").createServer((q, r) => r.end("ok")).listen({ fd: 3 })';
  const supervised = await s.serve({ listen: ['http=127.0.0.1:0'], command: ['node', '-e', app], readyAfterMs: 300 }); // node from PATH: under qemu-user, a wrapper
  assert.ok(supervised instanceof s.ServeHandle);
  assert.throws(() => new s.ServeHandle(), { code: 'ERR_ILLEGAL_CONSTRUCTOR' });
  // A new connection each time (agent: false): Node's global agent keeps the first one alive,
  // and a request on it after the reload would race the retired worker's FIN (socket hang up).
  const body = () => new Promise((resolve, reject) => require('node:http').get({ host: '127.0.0.1', port: supervised.ports[0], agent: false }, (res) => {
    let text = '';
    res.on('data', (d) => { text += d; }).on('end', () => resolve(text));
  }).on('error', reject));
  assert.equal(await body(), 'ok');
  const receipt = await supervised.reload();
  assert.equal(receipt.ok, true);
  assert.equal(receipt.lost.queued, 0);
  assert.equal(await body(), 'ok');
  await supervised.stop();

  // The lab and its building blocks.
  const half = await s.halfClosedPair();
  assert.equal(s.getOption(half.client, 'TCP_INFO').state, 'FIN_WAIT_2');
  await half.close();
  const paused = await s.loopbackPair('127.0.0.1', { paused: true });
  assert.ok(s.fillSendQueue(paused.client) > 0);
  await paused.close();
  const report = await s.runLab(['shared-descriptor']);
  assert.deepEqual(report.states, ['ESTABLISHED', 'FIN_WAIT_2', 'CLOSE_WAIT']);
  assert.match(s.renderStateDiagram(report), /class="state seen" data-state="CLOSE_WAIT"/);
}

module.exports = { exercise };

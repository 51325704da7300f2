// examples/create-listener.js: a listening descriptor handed to a child process.
const { spawn } = require('node:child_process');
const net = require('node:net');
const { createListener } = require('sockctl');

const CHILD = "require('node:net').createServer((s) => s.end('hello from the child')).listen({ fd: 3 })";

createListener({ host: '127.0.0.1', backlog: 128 }).then((listener) => {
  const { port } = listener.address;
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['inherit', 'inherit', 'inherit', listener.fd] });
  listener.close(); // the child's copy keeps listening
  net.connect(port, '127.0.0.1').on('data', (data) => {
    console.log(String(data)); // hello from the child
    child.kill();
  });
});

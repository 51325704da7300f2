// Debian's nginx in front of the app for bench/reload.mjs's proxy row: an upstream pool of
// keep-alive connections to the app (keepalive 32, keepalive_timeout 60s), HTTP/1.1 to the
// upstream, and proxy_next_upstream off, so that a request sent on a pooled connection the
// app closes under it is a 502 for the client, not a silent retry.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function nginxConfig(dir, listenPort, appPort) {
  const temp = (name) => { mkdirSync(join(dir, name), { recursive: true }); return join(dir, name); };
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  upstream app { server 127.0.0.1:${appPort}; keepalive 32; keepalive_timeout 60s; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream off;
    }
  }
}
`;
}

/** nginx on `listenPort` proxying to `appPort`; resolves with the child once it accepts. */
export async function startNginx(dir, listenPort, appPort) {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, listenPort, appPort));
  const child = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  const net = await import('node:net');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    const up = await new Promise((resolve) => net.connect(listenPort, '127.0.0.1').once('connect', function () { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
    if (up) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('nginx did not start listening');
}

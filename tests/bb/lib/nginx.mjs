// nginx.mjs -- a real nginx (Debian's) for the black-box tests: its own
// prefix, config, temp and log paths in a fresh temp dir, listening on
// loopback ports the test chose, started in the foreground (no master, no
// daemon) and stopped by its PID. Its logs are not flyteauth's.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { sleep, tempDir } from './server.mjs';

export const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';

// Starts nginx with `servers` (the text of one or more `server { ... }`
// blocks) inside its http block, and waits until `probe` (a URL) answers
// anything at all. Returns { dir, pid, stop, errorLog() }.
export async function startNginx({ servers, probe }) {
  const dir = tempDir('fa-bb-nginx-');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  writeFileSync(conf, `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers}
}
`);
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', errorLog], { stdio: 'ignore' });
  const nx = {
    dir, pid: child.pid, exited: null,
    errorLog: () => { try { return readFileSync(errorLog, 'utf8'); } catch { return ''; } },
  };
  nx.exitPromise = new Promise((resolve) => child.on('close', (code, signal) => {
    nx.exited = { code, signal };
    resolve(nx.exited);
  }));
  nx.stop = async () => {
    if (!nx.exited) {
      process.kill(nx.pid, 'SIGTERM');
      await nx.exitPromise;
    }
  };
  for (let i = 0; ; i++) {
    if (nx.exited) throw new Error(`nginx exited ${JSON.stringify(nx.exited)}: ${nx.errorLog()}`);
    try {
      await fetch(probe, { redirect: 'manual' });
      break;
    } catch { /* not up yet */ }
    if (i > 500) {
      await nx.stop();
      throw new Error(`nginx did not come up: ${nx.errorLog()}`);
    }
    await sleep(20);
  }
  return nx;
}

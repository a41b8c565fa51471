// spawn.mjs -- starts one server for bench/run and measures its start-up:
// the time from exec to the first 2xx answer on URL (polled every 2 ms over
// a fresh connection). The server runs detached with its output in LOG, so
// it outlives this helper; bench/run stops it by the PID printed here.
//
// Usage: node spawn.mjs LOG URL -- CMD [ARGS...]
// Prints "<pid> <startup_ms>" and exits 0; exits 1 if the server exits or
// gives no 2xx within 30 s (it is then killed).
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { get } from 'node:http';

const [log, url, dashes, cmd, ...args] = process.argv.slice(2);
if (!log || !url || dashes !== '--' || !cmd) {
  console.error('usage: node spawn.mjs LOG URL -- CMD [ARGS...]');
  process.exit(2);
}

const fd = openSync(log, 'a');
const t0 = process.hrtime.bigint();
const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
let exited = false;
child.on('exit', () => { exited = true; });

function probe() {
  return new Promise((resolve) => {
    const req = get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => { req.destroy(); resolve(false); });
  });
}

const deadline = Date.now() + 30_000;
for (;;) {
  if (exited) {
    console.error(`${cmd} exited during start-up (see ${log})`);
    process.exit(1);
  }
  if (await probe()) break;
  if (Date.now() > deadline) {
    child.kill('SIGKILL');
    console.error(`${cmd} gave no 2xx on ${url} within 30 s`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 2));
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
child.unref();
console.log(`${child.pid} ${ms.toFixed(1)}`);
process.exit(0);

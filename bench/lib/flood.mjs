// flood.mjs -- the attacker of bench/run's "under flood" rows: the abuse
// floods of the black-box tests (tests/bb/lib/flood_worker.mjs, on its own
// thread), run for a set time against one flyteauth while wrk measures
// the legitimate requests.
//
// Usage: node flood.mjs URL MODE SECONDS LOOPS READY_FILE
//   MODE secret: wrong client secrets, for FLOOD_CLIENT (a real
//                confidential client) and for client ids that do not exist
//   MODE login:  wrong passwords at POST /login, for FLOOD_USER (a real
//                local user) and for users that do not exist; each loop
//                first fetches its own login form (CSRF cookie and token)
// LOOPS concurrent keep-alive loops, loop i from 127.0.0.(10 + i). Touches
// READY_FILE when the flood starts; when it ends, prints one line
// {"mode", "loops", "sent", "counts": {status: n}} on stdout.
import { writeFileSync } from 'node:fs';
import { Jar, browse, loginFields } from '../../tests/bb/lib/browser.mjs';
import { flood } from '../../tests/bb/lib/flood.mjs';

const [url, mode, seconds, loopsArg, readyFile] = process.argv.slice(2);
const loops = Number(loopsArg);
if (!url || !['secret', 'login'].includes(mode) || !(Number(seconds) > 0) ||
    !(loops > 0 && loops <= 200) || !readyFile) {
  process.stderr.write('usage: flood.mjs URL secret|login SECONDS LOOPS READY_FILE\n');
  process.exit(2);
}
// URL is wrk's (a path on the server): the flood needs only its origin.
const { origin, port: portStr } = new URL(url);
const port = Number(portStr);
let params;
if (mode === 'secret') {
  params = { clientId: process.env.FLOOD_CLIENT };
} else {
  const csrf = [];
  const cookie = [];
  for (let i = 0; i < loops; i++) {
    const jar = new Jar();
    const res = await browse(`${origin}/login?redirect_url=%2Fconsole`, jar);
    const html = await res.text();
    if (res.status !== 200) throw new Error(`GET /login: ${res.status}`);
    csrf.push(loginFields(html).csrf_token);
    cookie.push(jar.header());
  }
  params = { csrf, cookie, username: process.env.FLOOD_USER };
}
const attack = flood({ port, mode, loops, ms: Number(seconds) * 1000, params });
writeFileSync(readyFile, '');
const res = await attack;
process.stdout.write(`${JSON.stringify({ mode, loops, sent: res.sent, counts: res.counts })}\n`);

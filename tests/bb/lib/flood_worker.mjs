// flood_worker.mjs -- one attacker, run in a worker thread so that its busy
// event loop does not delay what the test measures: `loops` concurrent
// request loops for `ms` milliseconds, loop i sending from loopback address
// 127.0.0.<first + i % addrs> (Linux routes all of 127/8 to lo). Each
// request is built by `mode`; the answer's status is counted. Posts
// { counts: {status: n}, sent } when done.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const { port, mode, loops, ms, first = 10, addrs = loops, params = {} } = workerData;

function basic(id, secret) {
  return 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
}

// One request of the flood: [method, path, headers, body].
function build(i) {
  const rnd = randomBytes(6).toString('hex');
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  switch (mode) {
  case 'secret': {
    // Wrong secrets for a real client and for client ids that do not exist.
    const id = i % 2 ? params.clientId : `nobody-${rnd}`;
    return ['POST', '/oauth2/token', { ...form, authorization: basic(id, `wrong-${rnd}`) },
      'grant_type=client_credentials'];
  }
  case 'login': {
    const body = new URLSearchParams({ csrf_token: params.csrf[i], redirect_url: '/console',
      username: i % 2 ? params.username : `nobody-${rnd}`, password: `wrong-${rnd}` });
    return ['POST', '/login', { ...form, cookie: params.cookie[i] }, body.toString()];
  }
  case 'device':
    return ['POST', '/oauth2/device/authorize', form,
      new URLSearchParams({ client_id: params.clientId, scope: params.scope }).toString()];
  case 'authorize': {
    const q = new URLSearchParams({ response_type: 'code', client_id: params.clientId,
      redirect_uri: params.redirectUri, scope: params.scope, state: rnd,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    return ['GET', `/oauth2/authorize?${q}`, {}, null];
  }
  default:
    throw new Error(`unknown mode ${mode}`);
  }
}

function once(agent, i) {
  const [method, path, headers, body] = build(i);
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers,
      localAddress: `127.0.0.${first + (i % addrs)}` }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(10000, () => req.destroy());
    if (body) req.end(body); else req.end();
  });
}

const counts = {};
let sent = 0;
const until = Date.now() + ms;
await Promise.all(Array.from({ length: loops }, async (_, i) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (Date.now() < until) {
    const s = await once(agent, i);
    counts[s] = (counts[s] || 0) + 1;
    sent++;
  }
  agent.destroy();
}));
parentPort.postMessage({ counts, sent });

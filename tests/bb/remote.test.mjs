// remote.test.mjs -- what flyteauth learns from other servers (src/remote,
// driven through tests/tools/remote_tool) against the real node
// oidc-provider: discovery and JWKS, a key rotation while an issuer is held
// (a new kid is picked up after one refetch; unknown kids never cost more
// than one fetch per window; keys are kept while the IdP is down), and the
// refusals: an answer over the cap (5 MB), malformed JSON, an HTML page,
// an issuer mismatch, an https issuer pointing at http, a redirect from
// https to http, a TLS server whose CA is not trusted (accepted with the CA
// file), the proxy (plain HTTP and CONNECT), and a server that never
// answers. Every server started here is stopped here; the temp dir with the
// throwaway CA is removed.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import * as jose from 'jose';
import { signingKey, startIdp } from './lib/idp.mjs';
import { BUILD, freePort, sleep, tempDir } from './lib/server.mjs';

const TOOL = path.join(BUILD, 'remote_tool');

// Runs remote_tool without blocking the event loop (the servers it talks
// to live in this process): { code, stdout, stderr }.
function tool(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(TOOL, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function refused(r, message) {
  assert.equal(r.code, 1, `accepted: ${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, message);
}

// A server on a free loopback port; stop() closes it and its connections.
async function serve(handler, { tls } = {}) {
  const port = await freePort();
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    server,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

function discoveryDoc(issuer, base = issuer) {
  return {
    issuer,
    authorization_endpoint: `${base}/auth`,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}

// Signing keys for the IdP: private JWKs for oidc-provider, the key
// objects for signing test tokens with npm jose.
function tokenFor(key, issuer, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ sub: 'alice', aud: 'flyteauth', iat: now, exp: now + 300, ...extra })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(issuer)
    .sign(key.privateKey);
}

// remote_tool verify, kept running: ask() writes one line and reads one.
function holdIssuer(issuer, args = []) {
  const child = spawn(TOOL, [...args, 'verify', issuer], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  const queued = [];
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  lines.on('line', (l) => (waiting.length ? waiting.shift()(l) : queued.push(l)));
  const next = () => (queued.length ? Promise.resolve(queued.shift())
    : new Promise((resolve) => waiting.push(resolve)));
  const exited = new Promise((resolve) => child.on('close', resolve));
  return {
    next,
    stderr: () => stderr,
    ask: async (line) => { child.stdin.write(`${line}\n`); return next(); },
    stats: async () => { child.stdin.write('stats\n'); return JSON.parse(await next()); },
    stop: async () => { child.stdin.end(); await exited; },
  };
}

describe('an issuer held while the IdP rotates its keys (oidc-provider)', () => {
  test('discovery, JWKS, rotation, unknown kids throttled, keys kept while down', async () => {
    const k1 = await signingKey('RS256', 'k1');
    const k2 = await signingKey('PS256', 'k2');
    const k3 = await signingKey('ES384', 'k3');
    let idp = await startIdp({ jwks: { keys: [k1.jwk] } });
    const { issuer, port } = idp;
    const WINDOW = 1500;
    const held = holdIssuer(issuer, ['--min-refetch-ms', String(WINDOW), '--retry-ms', '200', '--aud', 'flyteauth']);
    try {
      assert.equal(await held.next(), 'ready');
      assert.equal(idp.hits['/.well-known/openid-configuration'], 1);
      assert.equal(idp.hits['/jwks'], 1, 'the key set is warmed once');

      assert.equal(await held.ask(await tokenFor(k1, issuer)), 'ok alice');
      // Right after a fetch even a new kid waits for the window...
      assert.match(await held.ask(await tokenFor(k2, issuer)), /^err not found no key with kid "k2"/);
      assert.equal(idp.hits['/jwks'], 1);
      await sleep(WINDOW + 200);
      // ...after it, a kid the IdP does not publish: one refetch, then refused...
      assert.match(await held.ask(await tokenFor(k2, issuer)), /^err not found no key with kid "k2"/);
      assert.equal(idp.hits['/jwks'], 2);
      // ...and a storm of them inside the window costs nothing more.
      for (let i = 0; i < 5; i++) {
        assert.match(await held.ask(await tokenFor(k3, issuer)), /^err not found no key with kid "k3"/);
      }
      assert.equal(idp.hits['/jwks'], 2);
      let st = await held.stats();
      assert.equal(st.jwks_fetches, 2);
      assert.equal(st.kid_refetches, 1);
      assert.equal(st.throttled, 6);

      // The IdP restarts with a rotated set (k2 new, k1 still published).
      await idp.stop();
      idp = await startIdp({ jwks: { keys: [k2.jwk, k1.jwk] }, port });
      await sleep(WINDOW + 200);
      assert.equal(await held.ask(await tokenFor(k2, issuer)), 'ok alice');
      assert.equal(idp.hits['/jwks'], 1, 'the new kid is picked up after one refetch');
      assert.equal(await held.ask(await tokenFor(k1, issuer)), 'ok alice');
      assert.equal(idp.hits['/jwks'], 1);
      st = await held.stats();
      assert.equal(st.keys, 2);

      // The IdP goes down: cached keys keep working, unknown kids fail
      // closed after at most one (failing) fetch.
      await idp.stop();
      await sleep(WINDOW + 200);
      assert.equal(await held.ask(await tokenFor(k2, issuer)), 'ok alice');
      assert.match(await held.ask(await tokenFor(k3, issuer)), /^err not found .*\(refetch failed\)/);
      assert.match(await held.ask(await tokenFor(k3, issuer)), /^err not found/);
      st = await held.stats();
      assert.equal(st.jwks_failures, 1);
      assert.equal(st.keys, 2);
      assert.match(held.stderr(), /cannot load JWKS: http:\/\/127\.0\.0\.1:\d+\/jwks: .*\(keeping the keys loaded before\)/);

      // Claims: the issuer comes from the document, exactly.
      idp = await startIdp({ jwks: { keys: [k2.jwk, k1.jwk] }, port });
      assert.match(await held.ask(await tokenFor(k1, `${issuer}/`)), /^err denied token issuer is not http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(await held.ask(await tokenFor(k1, issuer, { aud: 'other' })), /^err denied/);
    } finally {
      await held.stop();
      await idp.stop();
    }
  });

  test('an IdP down at start: one log line naming the URL, retried until it answers', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const k1 = await signingKey('RS256', 'k1');
    const held = holdIssuer(issuer, ['--retry-ms', '200']);
    let idp;
    try {
      assert.match(await held.next(), new RegExp(`^loading: ${issuer}/\\.well-known/openid-configuration: Failed to connect`));
      assert.match(await held.ask('discovery'), /^err network failure/);
      idp = await startIdp({ jwks: { keys: [k1.jwk] }, port });
      let answer;
      for (let i = 0; i < 50; i++) {
        answer = await held.ask('discovery');
        if (answer.startsWith('ok')) break;
        await sleep(100);
      }
      assert.equal(answer, `ok ${issuer}/jwks`);
      assert.equal(await held.ask(await tokenFor(k1, issuer)), 'ok alice');
      const log = held.stderr();
      assert.equal(log.match(/cannot load the IdP's discovery document/g).length, 1, log);
      assert.match(log, new RegExp(`cannot load the IdP's discovery document: ${issuer}/\\.well-known/openid-configuration: .*Failed to connect.*; none loaded yet, retrying in 200ms`));
      assert.match(log, /loaded the IdP's discovery document after \d+ failed attempt\(s\)/);
    } finally {
      await held.stop();
      await idp?.stop();
    }
  });

  test('discovery of oidc-provider as OpenID configuration and as RFC 8414 metadata', async () => {
    const k = await signingKey('PS256', 'only');
    const idp = await startIdp({ jwks: { keys: [k.jwk] } });
    try {
      let r = await tool('discovery', idp.issuer);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout);
      assert.equal(d.issuer, idp.issuer);
      assert.equal(d.url, `${idp.issuer}/.well-known/openid-configuration`);
      assert.equal(d.jwks_uri, `${idp.issuer}/jwks`);
      assert.equal(d.template, false);
      assert.ok(d.id_token_algs.includes('PS256'), r.stdout);
      assert.match(d.end_session_endpoint, /\/session\/end$/);
      // The trailing-slash form of the issuer names the same document.
      r = await tool('discovery', `${idp.issuer}/`);
      assert.equal(r.code, 0, r.stderr);
      // flyteadmin's External mode with metadataUrl .well-known/openid-configuration.
      r = await tool('--kind', 'oauth', 'discovery', idp.issuer, `${idp.issuer}/.well-known/openid-configuration`);
      assert.equal(r.code, 0, r.stderr);
      // An issuer that is not the one configured.
      const other = `http://localhost:${idp.port}`;
      refused(await tool('discovery', other), new RegExp(`issuer "${idp.issuer.replaceAll('.', '\\.')}" is not the expected "http://localhost:${idp.port}"`));
    } finally {
      await idp.stop();
    }
  });
});

describe('refusals', () => {
  let bad;
  before(async () => {
    bad = await serve((req, res) => {
      const url = req.url.split('?')[0];
      if (url === '/huge') {
        // 5 MB, without a Content-Length: cut off at the cap.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < 5 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) { res.once('drain', pump); return; }
          }
          res.end();
        };
        res.on('error', () => {});
        pump();
      } else if (url === '/huge-cl') {
        const body = Buffer.alloc(5 * 1024 * 1024, 0x20);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.on('error', () => {});
        res.end(body);
      } else if (url === '/malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"issuer": "x",');
      } else if (url === '/html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<html><body>Sign in</body></html>');
      } else if (url === '/silent') {
        // Never answers.
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  after(async () => { await bad.stop(); });

  test('an answer over the cap (5 MB), with and without Content-Length', async () => {
    refused(await tool('get', `${bad.url}/huge`), /\/huge: the answer is larger than 262144 bytes \(input too large\)/);
    refused(await tool('get', `${bad.url}/huge-cl`), /\/huge-cl: the answer is larger than 262144 bytes/);
  });

  test('malformed JSON and an HTML page', async () => {
    refused(await tool('get', `${bad.url}/malformed`), /\/malformed: document is not valid JSON \(position \d+\)/);
    refused(await tool('get', `${bad.url}/html`), /\/html: document is text\/html, not JSON/);
    refused(await tool('discovery', bad.url, `${bad.url}/html`), /OpenID configuration is text\/html, not JSON/);
  });

  test('a server that never answers: the timeout', async () => {
    const t0 = Date.now();
    refused(await tool('--timeout-ms', '700', 'get', `${bad.url}/silent?client_secret=hunter2`),
      new RegExp(`${bad.url.replaceAll('.', '\\.')}/silent: no answer within 700 ms`));
    assert.ok(Date.now() - t0 < 5000);
    const r = await tool('--timeout-ms', '700', 'get', `${bad.url}/silent?client_secret=hunter2`);
    assert.ok(!r.stderr.includes('hunter2'), 'the query string reached the message');
  });
});

describe('TLS, downgrades and the proxy', () => {
  let dir;
  let ca;
  let tls;
  let site;
  before(() => {
    dir = tempDir('fa-remote-');
    // A throwaway CA and a server certificate for 127.0.0.1.
    const sh = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem',
      '-out', 'ca.pem', '-days', '1', '-subj', '/CN=flyteauth test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    sh(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'srv.csr',
      '-subj', '/CN=127.0.0.1']);
    execFileSync('sh', ['-c', "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > srv.ext"], { cwd: dir });
    sh(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem',
      '-days', '1', '-extfile', 'srv.ext']);
    ca = path.join(dir, 'ca.pem');
    tls = { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
  });

  before(async () => {
    // An https "IdP": a good document, one pointing at http, a redirect to http.
    site = await serve((req, res) => {
      const base = `https://127.0.0.1:${site.port}`;
      const json = (o) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
      if (req.url === '/.well-known/openid-configuration') json(discoveryDoc(base));
      else if (req.url === '/down/.well-known/openid-configuration') json({ ...discoveryDoc(`${base}/down`), jwks_uri: `http://127.0.0.1:${site.port}/jwks` });
      else if (req.url === '/redirect') { res.writeHead(302, { location: `http://127.0.0.1:${site.port}/x` }); res.end(); }
      else if (req.url === '/jwks') json({ keys: [] });
      else { res.writeHead(404); res.end(); }
    }, { tls });
  });
  after(async () => { await site.stop(); });

  test('a server whose CA is not trusted is refused; with the CA file it is accepted', async () => {
    refused(await tool('discovery', site.url), /certificate/i);
    const r = await tool('--ca', ca, 'discovery', site.url);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).issuer, site.url);
  });

  test('an https issuer cannot send us to http, by its document or by a redirect', async () => {
    refused(await tool('--ca', ca, 'discovery', `${site.url}/down`), /jwks_uri is http under an https issuer \(a downgrade\)/);
    refused(await tool('--ca', ca, 'get', `${site.url}/redirect`), /\/redirect: answered HTTP 302 \(redirects are not followed\)/);
  });

  test('the proxy carries every request when set, plain and CONNECT', async () => {
    const seen = [];
    const proxy = await serve((req, res) => {
      // Absolute-form request for a plain http URL.
      seen.push(`${req.method} ${req.url}`);
      const up = http.request(req.url, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(up);
    });
    proxy.server.on('connect', (req, sock, head) => {
      seen.push(`CONNECT ${req.url}`);
      const [host, p] = req.url.split(':');
      const up = net.connect(Number(p), host, () => {
        sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(sock);
        sock.pipe(up);
      });
      up.on('error', () => sock.destroy());
      sock.on('error', () => up.destroy());
    });
    const k = await signingKey('RS256', 'p');
    const idp = await startIdp({ jwks: { keys: [k.jwk] } });
    try {
      let r = await tool('--proxy', proxy.url, 'discovery', idp.issuer);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(seen, [`GET ${idp.issuer}/.well-known/openid-configuration`]);
      r = await tool('--proxy', proxy.url, '--ca', ca, 'discovery', site.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(seen[1], `CONNECT 127.0.0.1:${site.port}`);
      // Without the proxy, it is not used.
      r = await tool('discovery', idp.issuer);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(seen.length, 2);
      // A proxy that is down is an error naming the URL, not a bypass.
      const deadPort = await freePort();
      refused(await tool('--proxy', `http://user:pw@127.0.0.1:${deadPort}`, 'discovery', idp.issuer),
        /openid-configuration: .*(connect|Connection refused)/i);
      const dead = await tool('--proxy', `http://user:pw@127.0.0.1:${deadPort}`, 'discovery', idp.issuer);
      assert.ok(!dead.stderr.includes('pw@'), dead.stderr);
    } finally {
      await idp.stop();
      await proxy.stop();
    }
  });
});

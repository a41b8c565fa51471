// identity.mjs -- helpers for the identity and gate black-box tests: a
// server config with local users and static clients, its secret files made
// here (the same shapes `flyteauth secrets init` writes), the login form
// driven the way a script drives it (on browser.mjs), and tokens.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { browse, loginFields, submitLogin } from './browser.mjs';
import { run, startServer } from './server.mjs';

// The cookie jar these tests use lives with the rest of the scripted
// browser.
export { Jar } from './browser.mjs';

export const PASSWORD = 'correct-horse-battery';
export const CLIENT_SECRET = 'propeller-secret-0123456789';

// The four server secrets, as unpadded base64 / PKCS#1 PEM.
export function secretFiles() {
  const b64 = (n) => randomBytes(n).toString('base64').replace(/=+$/, '');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    claim_symmetric_key: b64(32),
    cookie_hash_key: b64(64),
    cookie_block_key: b64(32),
    'token_rsa_key.pem': privateKey.export({ type: 'pkcs1', format: 'pem' }),
  };
}

// base64(bcrypt(secret)) at cost 4, from the binary itself.
export async function hashSecret(secret) {
  const r = await run(['hash-secret', '--cost', '4'], { input: `${secret}\n` });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

// A Self-AS config with users alice and bob and two confidential clients:
// flytepropeller (scopes all, offline) and noall (no `all` scope).
export async function configYaml({ insecureCookieHeader = true, extraAuth = '' } = {}) {
  const user = await hashSecret(PASSWORD);
  const client = await hashSecret(CLIENT_SECRET);
  const cc = (id, scopes) => `        ${id}: {id: ${id}, client_secret: '${client}', ` +
    `redirect_uris: ['http://localhost:3846/callback'], grant_types: [client_credentials], ` +
    `response_types: [token], scopes: [${scopes}], public: false}\n`;
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: ${insecureCookieHeader}}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
${extraAuth}  userAuth:
    localUsers:
      - {username: alice, passwordHash: '${user}', name: Alice Example, email: alice@example.com}
      - {username: bob, passwordHash: '${user}'}
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      staticClients:
${cc('flytepropeller', 'all, offline')}${cc('noall', 'access_token')}`;
}

export async function startIdentityServer(opts = {}) {
  const files = secretFiles();
  const srv = await startServer({ config: await configYaml(opts), files });
  srv.files = files;
  return srv;
}

// GET /login (optionally ?redirect_url=...) -> { res, html, csrf, redirect }.
export async function getForm(url, jar, redirectUrl) {
  const res = await browse(loginUrl(url, redirectUrl), jar);
  const html = await res.text();
  if (res.status !== 200) return { res, html };
  const fields = loginFields(html);
  return { res, html, csrf: fields.csrf_token, redirect: fields.redirect_url };
}

// POST /login with exactly `fields` (the tests of its refusals).
export async function postLogin(url, jar, fields) {
  return browse(`${url}/login`, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

// The whole form round trip: returns the POST response.
export async function login(url, jar, username, password, redirectUrl) {
  return submitLogin(loginUrl(url, redirectUrl), jar, username, password);
}

function loginUrl(url, redirectUrl) {
  const q = redirectUrl === undefined ? '' : `?redirect_url=${encodeURIComponent(redirectUrl)}`;
  return `${url}/login${q}`;
}

// client_credentials through the real token endpoint (client_secret_basic).
export async function clientToken(url, clientId, secret = CLIENT_SECRET, scope) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) body.set('scope', scope);
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  const res = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json.access_token;
}

export async function me(url, headers = {}) {
  const res = await fetch(`${url}/me`, { headers, redirect: 'manual' });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, status: res.status, json, text };
}

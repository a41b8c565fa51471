// identity.mjs -- helpers for the identity and gate black-box tests: a
// server config with local users and static clients, its secret files made
// here (the same shapes `flyteauth secrets init` writes), the login form
// driven the way a script drives it (on browser.mjs), and tokens.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { Jar, browse, loginFields, submitLogin } from './browser.mjs';
import { recordSecret } from './secret_scan.mjs';
import { run, startServer } from './server.mjs';

// The cookie jar these tests use lives with the rest of the scripted
// browser.
export { Jar } from './browser.mjs';

export const PASSWORD = 'correct-horse-battery';
export const CLIENT_SECRET = 'propeller-secret-0123456789';
recordSecret('password', PASSWORD);
recordSecret('client secret', CLIENT_SECRET);

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

// flytectl as flyteadmin defines it (public, code flow), for extraClients.
export const FLYTECTL_REDIRECT = 'http://localhost:53593/callback';
export const FLYTECTL = `        flytectl: {id: flytectl, public: true, redirect_uris: ['${FLYTECTL_REDIRECT}'], ` +
  `grant_types: [authorization_code, refresh_token], response_types: [code], ` +
  `scopes: [all, offline, access_token]}\n`;

// A Self-AS config with users alice and bob and two confidential clients:
// flytepropeller (scopes all, offline) and noall (no `all` scope).
// publicUrl: the server's public URL (authorizedUris[0] and the issuer),
// when it is not flyteauth's own address (behind a proxy). serverSecurity:
// more server.security keys, as flow-style YAML ("trustedProxies: [...]").
export async function configYaml({ insecureCookieHeader = true, extraAuth = '', extraSelf = '',
  extraClients = '', publicUrl = 'http://127.0.0.1:PORT', serverSecurity = '' } = {}) {
  const user = await hashSecret(PASSWORD);
  const client = await hashSecret(CLIENT_SECRET);
  const cc = (id, scopes) => `        ${id}: {id: ${id}, client_secret: '${client}', ` +
    `redirect_uris: ['http://localhost:3846/callback'], grant_types: [client_credentials], ` +
    `response_types: [token], scopes: [${scopes}], public: false}\n`;
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {${serverSecurity ? `${serverSecurity}, ` : ''}secure: false, insecureCookieHeader: ${insecureCookieHeader}}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [${publicUrl}]
${extraAuth}  userAuth:
    localUsers:
      - {username: alice, passwordHash: '${user}', name: Alice Example, email: alice@example.com}
      - {username: bob, passwordHash: '${user}'}
  appAuth:
    selfAuthServer:
      issuer: ${publicUrl}
${extraSelf}      staticClients:
${cc('flytepropeller', 'all, offline')}${cc('noall', 'access_token')}${extraClients}`;
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

// The authorization code flow with PKCE for a public client, driven as a
// browser and a CLI do: authorize, log in as `username`, the callback, the
// token request. Returns the token endpoint's JSON (access, refresh and,
// with openid, ID token).
export async function codeFlow(url, { clientId, redirectUri, scope, username = 'alice',
  password = PASSWORD, extra = {} }) {
  const jar = new Jar();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(12).toString('hex');
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri,
    scope, state, code_challenge: challenge, code_challenge_method: 'S256', ...extra });
  let res = await browse(`${url}/oauth2/authorize?${q}`, jar);
  assert.equal(res.status, 302, `authorize: ${res.status}`);
  res = await submitLogin(new URL(res.headers.get('location'), url).href, jar, username, password);
  assert.ok([302, 303].includes(res.status), `login: ${res.status}`);
  res = await browse(new URL(res.headers.get('location'), url).href, jar);
  assert.equal(res.status, 302, `callback: ${res.status}`);
  const back = new URL(res.headers.get('location'));
  assert.equal(back.searchParams.get('state'), state);
  const tok = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code'),
      redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier }),
  });
  const json = await tok.json();
  assert.equal(tok.status, 200, JSON.stringify(json));
  return json;
}

export async function me(url, headers = {}) {
  const res = await fetch(`${url}/me`, { headers, redirect: 'manual' });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, status: res.status, json, text };
}

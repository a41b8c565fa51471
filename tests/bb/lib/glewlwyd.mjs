// glewlwyd.mjs -- Debian's glewlwyd (an OpenID Provider nobody here wrote)
// on a loopback port, as a second upstream IdP for the black-box tests. Each
// instance gets a temp dir with its own config file, a fresh SQLite database
// made from the schema the package ships, and its OpenID Connect plugin,
// scopes, users and clients added through its admin REST API (logged in as
// the admin the schema creates). The test that starts it stops it by PID.
//
// The plugin signs with two keys made here: an RSA key (RS256, the default)
// and a P-256 key (ES256); a client with `signKid: 'es'` gets its ID tokens
// signed with the second. Users carry name and email, which the plugin puts
// in every ID token and userinfo answer; preferred_username comes from the
// username.
//
// glewlwyd's own login page is a script-driven single-page app; browserLogin
// does what its script does over the REST API (POST /api/auth sets the
// session cookie, PUT /api/auth/grant records the user's consent), then
// follows the authorization request with that cookie, as the page does.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import * as jose from 'jose';

import { Jar, browse } from './browser.mjs';
import { freePort, sleep, tempDir } from './server.mjs';

export const GLEWLWYD = '/usr/bin/glewlwyd';
const SCHEMA = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const WEBAPP = '/usr/share/glewlwyd/webapp';
// The admin user the packaged schema creates (its documented default).
const ADMIN = { username: 'admin', password: 'password' };
export const PLUGIN = 'oidc';
export const SCOPES = ['openid', 'profile', 'email', 'offline_access'];

// Should a test file die before its after hook, no glewlwyd outlives it.
const live = new Set();
process.on('exit', () => {
  for (const pid of live) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
});

function conf(port, dir) {
  return `# written by tests/bb/lib/glewlwyd.mjs
port=${port}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:${port}"
login_url="login.html"
api_prefix="api"
static_files_path="${dir}/webapp/"
allow_origin="*"
log_mode="file"
log_level="${process.env.BB_GLEWLWYD_LOG ?? 'INFO'}"
log_file="${dir}/glewlwyd.log"
cookie_secure=0
cookie_same_site="empty"
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
add_x_frame_option_header_deny=true
max_post_size=1048576
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
user_middleware_module_path="${dir}/none"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "${dir}/glewlwyd.db" };
static_files_mime_types = (
  { extension = ".html" mime_type = "text/html" compress = 0 },
  { extension = ".css" mime_type = "text/css" compress = 0 },
  { extension = ".js" mime_type = "application/javascript" compress = 0 },
  { extension = ".json" mime_type = "application/json" compress = 0 },
  { extension = ".png" mime_type = "image/png" compress = 0 },
  { extension = ".ico" mime_type = "image/x-icon" compress = 0 },
  { extension = ".woff2" mime_type = "font/woff2" compress = 0 },
  { extension = ".woff" mime_type = "font/woff" compress = 0 },
  { extension = ".ttf" mime_type = "font/ttf" compress = 0 },
  { extension = ".svg" mime_type = "image/svg+xml" compress = 0 },
  { extension = ".map" mime_type = "application/octet-stream" compress = 0 }
)
`;
}

// The login web app, served by glewlwyd itself: a copy of the packaged
// files (its file server follows no symbolic link), with config.json a file
// (the package ships it inside a directory of that name).
function webapp(dir) {
  const w = path.join(dir, 'webapp');
  mkdirSync(w);
  for (const f of readdirSync(WEBAPP)) {
    if (f !== 'config.json') cpSync(path.join(WEBAPP, f), path.join(w, f), { recursive: true, dereference: true });
  }
  cpSync(path.join(WEBAPP, 'config.json', 'config.json'), path.join(w, 'config.json'));
}

async function privateJwk(alg, kid) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' };
}

// Admin REST API calls, logged in once as the packaged admin.
class Admin {
  constructor(url) { this.url = url; this.jar = new Jar(); }

  async call(method, p, body) {
    const res = await browse(`${this.url}/api${p}`, this.jar, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`glewlwyd admin ${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
}

// Starts glewlwyd; `users` ({ username, password, name, email }) and
// `clients` (see addClient) are added before it returns. Returns
// { url, issuer, port, pid, dir, admin, addUser, addClient, log(), stop() }.
export async function startGlewlwyd({ users = [], clients = [], accessTokenDuration = 600 } = {}) {
  const dir = tempDir('fa-bb-glewlwyd-');
  mkdirSync(path.join(dir, 'none'));
  const db = spawnSync('sqlite3', [path.join(dir, 'glewlwyd.db')],
    { input: gunzipSync(readFileSync(SCHEMA)), encoding: 'utf8' });
  if (db.status !== 0) throw new Error(`glewlwyd schema: ${db.stderr || db.error}`);
  webapp(dir);
  const port = await freePort();
  const cfg = path.join(dir, 'glewlwyd.conf');
  writeFileSync(cfg, conf(port, dir));
  const child = spawn(GLEWLWYD, [`--config=${cfg}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const gl = {
    dir, port, pid: child.pid, child, exited: null, output: '',
    url: `http://127.0.0.1:${port}`,
    issuer: `http://127.0.0.1:${port}/api/${PLUGIN}`,
  };
  live.add(child.pid);
  child.stdout.on('data', (d) => { gl.output += d; });
  child.stderr.on('data', (d) => { gl.output += d; });
  gl.exitPromise = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child.pid);
      gl.exited = { code, signal };
      resolve(gl.exited);
    });
  });
  gl.log = () => {
    try { return readFileSync(path.join(dir, 'glewlwyd.log'), 'utf8') + gl.output; } catch { return gl.output; }
  };
  gl.stop = async () => {
    if (!gl.exited) {
      process.kill(gl.pid, 'SIGTERM');
      const t = setTimeout(() => { if (!gl.exited) process.kill(gl.pid, 'SIGKILL'); }, 10000);
      await gl.exitPromise;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
    return gl.exited;
  };
  try {
    const deadline = Date.now() + 15000;
    for (;;) {
      if (gl.exited) throw new Error(`glewlwyd exited ${JSON.stringify(gl.exited)}: ${gl.log()}`);
      try {
        if ((await fetch(`${gl.url}/config`)).status === 200) break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`glewlwyd did not come up: ${gl.log()}`);
      await sleep(50);
    }
    gl.admin = new Admin(gl.url);
    await gl.admin.call('POST', '/auth/', ADMIN);
    await configure(gl, accessTokenDuration);
    gl.addUser = (u) => addUser(gl, u);
    gl.addClient = (c) => addClient(gl, c);
    for (const u of users) await gl.addUser(u);
    for (const c of clients) await gl.addClient(c);
  } catch (e) {
    await gl.stop();
    throw e;
  }
  return gl;
}

async function configure(gl, accessTokenDuration) {
  const { admin } = gl;
  // openid ships without a password requirement; every scope here needs
  // the user's password in the session, as a real deployment has it.
  await admin.call('PUT', '/scope/openid', {
    name: 'openid', display_name: 'Open ID', description: 'OpenID Connect',
    password_required: true, password_max_age: 0, scheme: {},
  });
  for (const name of SCOPES.slice(1)) {
    await admin.call('POST', '/scope/', {
      name, display_name: name, description: `the ${name} scope`,
      password_required: true, password_max_age: 0, scheme: {},
    });
  }
  // The client database stores only the properties its data-format names.
  const mod = await admin.call('GET', '/mod/client/database');
  // (end_session checks post_logout_redirect_uris, a name the packaged
  // data-format lacks.)
  mod.parameters['data-format'].sign_kid = { multiple: false, read: true, write: true };
  mod.parameters['data-format'].post_logout_redirect_uris = { multiple: true, read: true, write: true };
  await admin.call('PUT', '/mod/client/database', {
    module: mod.module, name: mod.name, display_name: mod.display_name,
    order_rank: mod.order_rank, readonly: mod.readonly, parameters: mod.parameters,
  });
  await admin.call('PUT', '/mod/client/database/reset');
  gl.keys = { rs: await privateJwk('RS256', 'rs'), es: await privateJwk('ES256', 'es') };
  await admin.call('POST', '/mod/plugin/', {
    module: 'oidc', name: PLUGIN, display_name: 'OpenID Connect', order_rank: 0,
    parameters: {
      iss: gl.issuer,
      'jwks-private': JSON.stringify({ keys: [gl.keys.rs, gl.keys.es] }),
      'default-kid': 'rs',
      'client-sign_kid-parameter': 'sign_kid',
      'jwks-show': true,
      'access-token-duration': accessTokenDuration,
      'refresh-token-duration': 3600,
      'code-duration': 300,
      'refresh-token-rolling': true,
      'allow-non-oidc': false,
      'auth-type-code-enabled': true,
      'auth-type-token-enabled': false,
      'auth-type-id-token-enabled': false,
      'auth-type-none-enabled': false,
      'auth-type-password-enabled': false,
      'auth-type-client-enabled': false,
      'auth-type-refresh-enabled': true,
      'auth-type-device-enabled': false,
      'secret-type': 'public',
      'name-claim': 'mandatory',
      'email-claim': 'mandatory',
      'scope-claim': 'no',
      claims: [{
        name: 'preferred_username', 'user-property': 'username', type: 'string',
        'boolean-value-true': '', 'boolean-value-false': '', mandatory: true, 'on-demand': false, scope: [],
      }],
      'allowed-scope': SCOPES,
      'pkce-allowed': true,
      'pkce-method-plain-allowed': false,
      'session-management-allowed': true,
      'session-cookie-name': 'GLEWLWYD2_OIDC_SID',
      'session-cookie-expiration': 3600,
      scope: [],
    },
  });
}

async function addUser(gl, { username, password, name, email, scope = SCOPES }) {
  await gl.admin.call('POST', '/user/', { username, password, name, email, enabled: true, scope });
}

// A confidential client: { clientId, secret, redirectUris, postLogoutUris,
// authMethod ('client_secret_basic' default, or 'client_secret_post'),
// signKid ('rs' default, 'es' for ES256) }. authMethod null leaves the
// property out (a misconfigured client, for the harness's own test).
async function addClient(gl, { clientId, secret, redirectUris, postLogoutUris = [],
  authMethod = 'client_secret_basic', signKid }) {
  await gl.admin.call('POST', '/client/', {
    client_id: clientId, name: clientId, description: 'flyteauth test client',
    confidential: true, client_secret: secret, enabled: true,
    scope: SCOPES,
    redirect_uri: redirectUris,
    authorization_type: ['code', 'refresh_token'],
    // glewlwyd refuses every token request of a client without it.
    ...(authMethod ? { token_endpoint_auth_method: [authMethod] } : {}),
    ...(postLogoutUris.length ? { post_logout_redirect_uris: postLogoutUris } : {}),
    ...(signKid ? { sign_kid: signKid } : {}),
  });
}

// The user logs in at glewlwyd and consents, as its login page does it,
// in `jar` (a browser.mjs Jar for glewlwyd's origin). Throws on refusal.
export async function glewlwydSignIn(gl, jar, { username, password }, clientId, scope = SCOPES.join(' ')) {
  const json = { 'content-type': 'application/json' };
  const auth = await browse(`${gl.url}/api/auth/`, jar,
    { method: 'POST', headers: json, body: JSON.stringify({ username, password }) });
  if (auth.status !== 200) throw new Error(`glewlwyd refused the login: ${auth.status}`);
  const grant = await browse(`${gl.url}/api/auth/grant/${encodeURIComponent(clientId)}`, jar,
    { method: 'PUT', headers: json, body: JSON.stringify({ scope }) });
  assert.equal(grant.status, 200, `glewlwyd grant: ${grant.status} ${await grant.text()}`);
}

// A browser at glewlwyd's authorization endpoint (authorizeUrl, as the RP
// sent it there), doing what glewlwyd's login page does: the endpoint
// sends it to login.html with a callback_url; the page signs the user in
// and records the consent, then goes back to callback_url with g_continue,
// and glewlwyd redirects to the RP. Returns that last URL (the RP's
// redirect_uri with code and state, or with an error).
export async function glewlwydAuthorize(gl, authorizeUrl, user, { jar = new Jar() } = {}) {
  const u = new URL(authorizeUrl);
  assert.equal(u.origin, gl.url, `the authorization request goes to glewlwyd: ${authorizeUrl}`);
  let res = await browse(authorizeUrl, jar);
  let loc = new URL(res.headers.get('location') ?? '', authorizeUrl);
  assert.equal(res.status, 302, `glewlwyd authorize: ${res.status} ${(await res.text()).slice(0, 300)}`);
  if (loc.origin !== gl.url) return loc.href;   // an error for the RP, before any login
  assert.equal(loc.pathname, '/login.html', `glewlwyd sends the browser to its login page: ${loc}`);
  const back = new URL(loc.searchParams.get('callback_url'));
  await glewlwydSignIn(gl, jar, user, loc.searchParams.get('client_id'), loc.searchParams.get('scope'));
  back.search += back.search ? '&g_continue' : '?g_continue';
  res = await browse(back.href, jar);
  assert.equal(res.status, 302, `glewlwyd after login: ${res.status} ${(await res.text()).slice(0, 300)}`);
  loc = new URL(res.headers.get('location'), back);
  assert.notEqual(loc.origin, gl.url, `glewlwyd sends the browser back to the RP: ${loc}`);
  return loc.href;
}

// A real browser (a playwright Page) on glewlwyd's login page, as the
// authorization endpoint sent it there: types the username and password,
// submits, ticks every scope the consent form offers, grants, and presses
// Continue, as a person does. Where the page goes then is the caller's to
// wait for (the RP's redirect_uri).
export async function glewlwydPageLogin(page, { username, password }) {
  await page.waitForURL(/\/login\.html\?/);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#loginbut');
  const grant = page.locator('button', { hasText: 'Grant access' });
  const cont = page.locator('button', { hasText: 'Continue' });
  await grant.or(cont).first().waitFor();
  if (await grant.isVisible()) {
    for (const box of await page.locator('input[id^="grant-"]').all()) await box.check();
    await grant.click();
  }
  await cont.click();
}

// The user, signed in to glewlwyd's profile API (the user needs the
// g_profile scope), disables every refresh token glewlwyd gave clientId
// for them, as its profile page's "revoke" does. Returns how many.
export async function glewlwydRevokeTokens(gl, { username, password }, clientId) {
  const jar = new Jar();
  const json = { 'content-type': 'application/json' };
  let res = await browse(`${gl.url}/api/auth/`, jar,
    { method: 'POST', headers: json, body: JSON.stringify({ username, password }) });
  assert.equal(res.status, 200, 'the user signs in to glewlwyd');
  res = await browse(`${gl.url}/api/${PLUGIN}/token/`, jar);
  assert.equal(res.status, 200, 'the user lists their tokens');
  const tokens = (await res.json()).filter((t) => t.client_id === clientId && t.enabled);
  for (const t of tokens) {
    res = await browse(`${gl.url}/api/${PLUGIN}/token/${encodeURIComponent(t.token_hash)}`, jar, { method: 'DELETE' });
    assert.equal(res.status, 200, 'the user revokes a token');
  }
  return tokens.length;
}

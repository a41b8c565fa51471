// op.mjs -- helpers for the OpenID Provider black-box tests: a server with
// local users (one with every profile field) and OIDC relying-party
// clients, npm openid-client configured against its discovery document, and
// a browser walk through /oauth2/authorize and the local login form.
import assert from 'node:assert/strict';

import * as client from 'openid-client';

import { Jar, browse, hiddenInputs, submitLogin } from './browser.mjs';
import { hashSecret as hash, secretFiles } from './identity.mjs';
import { startServer } from './server.mjs';

export const RP_SECRET = 'rp secret+%:/&=x';
export const PASSWORD = 'correct horse battery staple';
export const RP_REDIRECT = 'http://127.0.0.1:9/rp/cb';
export const RP_LOGOUT = 'http://127.0.0.1:9/rp/logged-out';

// Users alice (every profile field) and bob (username only); clients `rp`
// (confidential, code + refresh, scopes all offline), `cli` (public, code +
// device, scope all) and `machine` (client_credentials only).
// `extraSelf` is YAML added under selfAuthServer; `extraAuth` under auth;
// `adminClient` one more static client.
export async function opConfig({ extraSelf = '', extraAuth = '', adminClient = '' } = {}) {
  const [rp, machine, pw] = await Promise.all([hash(RP_SECRET), hash(RP_SECRET), hash(PASSWORD)]);
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
${extraAuth}  userAuth:
    localUsers:
      - {username: alice, passwordHash: "${pw}", name: Alice Example, email: alice@example.com,
         emailVerified: true, groups: [flyte-admins, data]}
      - {username: bob, passwordHash: "${pw}"}
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
${extraSelf}      staticClients:
        rp:
          id: rp
          client_secret: "${rp}"
          redirect_uris: [${RP_REDIRECT}]
          post_logout_redirect_uris: [${RP_LOGOUT}]
          grant_types: [authorization_code, refresh_token]
          response_types: [code]
          scopes: [all, offline]
          public: false
        cli:
          id: cli
          redirect_uris: [http://localhost:53593/callback]
          grant_types: [authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code]
          response_types: [code]
          scopes: [all, offline]
          public: true
        machine:
          id: machine
          client_secret: "${machine}"
          grant_types: [client_credentials]
          response_types: [token]
          scopes: [all]
          public: false
${adminClient}`;
}

export async function startOp(opts = {}) {
  return startServer({ config: await opConfig(opts), files: secretFiles() });
}

// openid-client's Configuration for `rp` from the server's discovery
// document (client_secret_basic unless `auth` says otherwise).
export async function rpConfig(srv, { clientId = 'rp', auth } = {}) {
  return client.discovery(new URL(srv.url), clientId, undefined,
    auth ?? client.ClientSecretBasic(RP_SECRET), { execute: [client.allowInsecureRequests] });
}

// A fresh state / nonce / PKCE triple.
export async function flowParams() {
  const verifier = client.randomPKCECodeVerifier();
  return {
    state: client.randomState(),
    nonce: client.randomNonce(),
    verifier,
    challenge: await client.calculatePKCECodeChallenge(verifier),
  };
}

// Follows an authorize URL as a browser: logs in through the local form
// when sent there (as `user`, unless user is null: then the login page is
// returned as it is). Returns { loc, res, jar, loggedIn, loginUrl }: loc is
// where the browser was finally sent (the client's redirect_uri, or the
// login page when user is null).
export async function authorize(srv, authUrl, { jar = new Jar(), user = 'alice',
  password = PASSWORD } = {}) {
  let res = await browse(authUrl, jar);
  assert.equal(res.status, 302, `authorize: ${res.status} ${await res.clone().text()}`);
  let loc = new URL(res.headers.get('location'), srv.url);
  let loggedIn = false;
  let loginUrl = null;
  if (loc.origin === srv.url && loc.pathname === '/login') {
    loginUrl = loc;
    if (user === null) return { loc, res, jar, loggedIn, loginUrl };
    res = await submitLogin(loc, jar, user, password);
    assert.ok([302, 303].includes(res.status), `login: ${res.status}`);
    loc = new URL(res.headers.get('location'), srv.url);
    assert.equal(loc.pathname, '/oauth2/authorize_callback');
    res = await browse(loc, jar);
    assert.equal(res.status, 302, `callback: ${res.status} ${await res.clone().text()}`);
    loc = new URL(res.headers.get('location'), srv.url);
    loggedIn = true;
  }
  return { loc, res, jar, loggedIn, loginUrl };
}

// The whole code flow for `rp` with openid-client: returns { tokens, jar,
// params, loc }. `extra` goes into the authorization request.
export async function codeFlow(srv, config, { scope = 'openid profile email', extra = {},
  jar, user } = {}) {
  const params = await flowParams();
  // Without openid there is no ID token to carry a nonce back.
  const oidc = scope.split(' ').includes('openid');
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: RP_REDIRECT, scope, state: params.state, ...(oidc ? { nonce: params.nonce } : {}),
    code_challenge: params.challenge, code_challenge_method: 'S256', ...extra,
  });
  const walk = await authorize(srv, url, { jar, user });
  const tokens = await client.authorizationCodeGrant(config, walk.loc, {
    expectedState: params.state, ...(oidc ? { expectedNonce: params.nonce } : {}),
    pkceCodeVerifier: params.verifier,
  });
  return { tokens, jar: walk.jar, params, loc: walk.loc, walk };
}

export { basic, postForm } from './server.mjs';

// The user side of a device authorization: log in through
// verification_uri_complete, submit the prefilled code, approve.
export async function approveDevice(srv, da, { user = 'alice' } = {}) {
  const jar = new Jar();
  let res = await browse(da.verification_uri_complete, jar);
  assert.equal(res.status, 302);
  const loc = new URL(res.headers.get('location'), srv.url);
  res = await submitLogin(loc, jar, user, PASSWORD);
  assert.equal(res.status, 303);
  res = await browse(new URL(res.headers.get('location'), srv.url), jar);
  const entry = await res.text();
  const post = (fields) => browse(`${srv.url}/device`, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  res = await post({ ...hiddenInputs(entry), user_code: da.user_code });
  const confirm = await res.text();
  assert.equal(res.status, 200, confirm);
  res = await post({ ...hiddenInputs(confirm), action: 'approve' });
  assert.equal(res.status, 200, await res.text());
}


// oidc_flyteadmin_rp.test.mjs -- the README's Flyte recipe, black-box:
// flyteauth as the OpenID Provider of flyteadmin's identity layer
// (userAuth.openId.baseUrl) and as its external authorization server
// (appAuth.externalAuthServer.baseUrl). This plays flyteadmin's relying
// party the way flyteadmin does it with go-oidc and golang.org/x/oauth2:
// discovery at <baseUrl>/.well-known/openid-configuration with the issuer
// compared exactly, an authorization request with only state (a 64-hex CSRF
// hash; no PKCE, no nonce), the code exchanged with client_secret_basic
// (id and secret query-escaped), the ID token verified as go-oidc's
// verifier does (alg among the advertised ones, signature from jwks_uri,
// iss, aud contains the client id, exp), then userinfo with the access
// token; and, as External mode does, the access token verified against the
// RFC 8414 document's keys with allowedAudience.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { hashSecret } from './lib/identity.mjs';
import { authorize, startOp } from './lib/op.mjs';

const ADMIN_SECRET = 'flyteadmin-' + randomBytes(8).toString('hex');
const ADMIN_CALLBACK = 'https://flyte.example.com/callback';

let srv;
before(async () => {
  // The client the README tells the operator to register for flyteadmin.
  srv = await startOp({ adminClient: `
        flyteadmin:
          id: flyteadmin
          client_secret: "${await hashSecret(ADMIN_SECRET)}"
          redirect_uris: [${ADMIN_CALLBACK}]
          grant_types: [authorization_code, refresh_token]
          response_types: [code]
          scopes: [all, offline]
          public: false
` });
});
after(async () => { await srv?.stop(); });

// golang.org/x/oauth2's client_secret_basic: url.QueryEscape of each part.
function goBasic(id, secret) {
  const esc = (s) => encodeURIComponent(s).replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return 'Basic ' + Buffer.from(`${esc(id)}:${esc(secret)}`).toString('base64');
}

test('flyteadmin logs a user in through flyteauth and accepts its tokens', async () => {
  const baseUrl = srv.url;   // userAuth.openId.baseUrl
  // go-oidc NewProvider: the issuer must be the base URL exactly.
  const res = await fetch(`${baseUrl}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  const disc = await res.json();
  assert.equal(disc.issuer, baseUrl);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
    assert.ok(disc[k]?.startsWith(baseUrl), k);
  }
  // flyteadmin's login handler: AuthCodeURL(state), scopes from openId.scopes.
  const state = createHash('sha256').update(randomBytes(16)).digest('hex');
  const auth = new URL(disc.authorization_endpoint);
  auth.search = new URLSearchParams({ client_id: 'flyteadmin', redirect_uri: ADMIN_CALLBACK,
    response_type: 'code', scope: 'openid profile email', state }).toString();
  const { loc } = await authorize(srv, auth);
  assert.equal(`${loc.origin}${loc.pathname}`, ADMIN_CALLBACK);
  assert.equal(loc.searchParams.get('state'), state);
  // The callback: Exchange(code) with the client secret in Basic.
  const tok = await fetch(disc.token_endpoint, {
    method: 'POST',
    headers: { authorization: goBasic('flyteadmin', ADMIN_SECRET),
      'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: loc.searchParams.get('code'),
      redirect_uri: ADMIN_CALLBACK }).toString(),
  });
  const tokens = await tok.json();
  assert.equal(tok.status, 200, JSON.stringify(tokens));
  assert.equal(tokens.token_type, 'Bearer');
  assert.ok(tokens.id_token, 'flyteadmin needs the id_token of the exchange');
  // go-oidc's IDTokenVerifier{ClientID: flyteadmin}.
  const { alg } = decodeProtectedHeader(tokens.id_token);
  assert.ok(disc.id_token_signing_alg_values_supported.includes(alg));
  const jwks = createRemoteJWKSet(new URL(disc.jwks_uri));
  const { payload } = await jwtVerify(tokens.id_token, jwks,
    { issuer: disc.issuer, audience: 'flyteadmin', algorithms: disc.id_token_signing_alg_values_supported });
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  // provider.UserInfo(StaticTokenSource(token)): a JSON document with sub.
  const ui = await fetch(disc.userinfo_endpoint,
    { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(ui.status, 200);
  assert.match(ui.headers.get('content-type'), /^application\/json/);
  const info = await ui.json();
  assert.equal(info.sub, payload.sub);
  assert.equal(info.name, 'Alice Example');
  // appAuth.externalAuthServer: flyteadmin reads the RFC 8414 document and
  // verifies access tokens against its keys, aud in allowedAudience.
  const as = await (await fetch(`${baseUrl}/.well-known/oauth-authorization-server`)).json();
  assert.equal(as.issuer, baseUrl);
  const asKeys = createRemoteJWKSet(new URL(as.jwks_uri));
  const at = await jwtVerify(tokens.access_token, asKeys,
    { issuer: as.issuer, audience: srv.url, typ: 'at+jwt' });
  assert.equal(at.payload.sub, 'alice');
  assert.ok(at.payload.scp.includes('openid'));
});

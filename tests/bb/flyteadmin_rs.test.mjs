// flyteadmin_rs.test.mjs -- flyteauth's Self server as the external
// authorization server of a real flyteadmin: this test plays flyteadmin's
// resource-server side as flyteadmin/auth/authzserver/resource_server.go
// does it in External mode, against the real binary:
//   1. GET <externalAuthServer.baseUrl>/.well-known/oauth-authorization-server
//      (metadataUrl unset), take its jwks_uri;
//   2. a go-oidc style remote key set on that jwks_uri verifies the
//      signature only (npm jose's createRemoteJWKSet + compactVerify);
//   3. the claims are parsed unverified and checked as flyteadmin does:
//      exp/nbf/iat valid, one `aud` in allowedAudience ∪ {the public URL},
//      scopes from `scp` (an array), `client_id`, `user_info`;
//   4. flyteadmin's blanket authorization wants scope `all`.
// The values are the README's (flyteadmin / flyte-binary pointed at
// flyteauth): allowedAudience = the Flyte URL, which flyteauth's clients
// may request as their audience.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';

import { CLIENT_SECRET, FLYTECTL_REDIRECT, codeFlow, hashSecret,
  startIdentityServer } from './lib/identity.mjs';

const FLYTE = 'https://flyte.example.com';   // flyteadmin's public URL

// flyteadmin's ValidateAccessToken, step by step (resource_server.go,
// claims_verifier.go): what it accepts, or throws why not.
async function flyteadminValidate(rs, token) {
  await jose.compactVerify(token, rs.keySet);                  // VerifySignature
  const claims = jose.decodeJwt(token);                        // ParseUnverified
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp === 'number' && now >= claims.exp) throw new Error('token is expired');
  if (typeof claims.nbf === 'number' && now < claims.nbf) throw new Error('token is not valid yet');
  if (typeof claims.iat === 'number' && now < claims.iat) throw new Error('token used before issued');
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const audience = auds.find((a) => rs.allowedAudience.includes(a) || a === rs.publicUrl);
  if (!audience) throw new Error(`invalid audience ${JSON.stringify(claims.aud)}`);
  let scopes = [];
  if (Array.isArray(claims.scp)) scopes = claims.scp;
  else if (claims.scp !== undefined && typeof claims.scp !== 'string') throw new Error('scp type');
  return {
    audience, subject: claims.sub, clientId: claims.client_id ?? '', scopes,
    userInfo: claims.user_info ?? {}, email: claims.user_info?.email ?? claims.email,
  };
}

describe('flyteadmin (External mode) trusting flyteauth (Self)', () => {
  let srv;
  let rs;

  before(async () => {
    const hash = await hashSecret(CLIENT_SECRET);
    srv = await startIdentityServer({
      extraClients:
        `        flyteadmin-bot: {id: flyteadmin-bot, client_secret: '${hash}', grant_types: [client_credentials], ` +
        `response_types: [token], scopes: [all], audience: ['${FLYTE}'], public: false}\n` +
        `        flytectl: {id: flytectl, public: true, redirect_uris: ['${FLYTECTL_REDIRECT}'], ` +
        `grant_types: [authorization_code, refresh_token], response_types: [code], ` +
        `scopes: [all, offline], audience: ['${FLYTE}']}\n`,
    });
    // flyteadmin: externalAuthServer.baseUrl = flyteauth, metadataUrl unset.
    const meta = await (await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).json();
    rs = {
      meta,
      keySet: jose.createRemoteJWKSet(new URL(meta.jwks_uri)),
      allowedAudience: [FLYTE],
      publicUrl: FLYTE,
    };
  });

  after(async () => { await srv?.stop(); });

  async function tokenFor(clientId, params) {
    const basic = Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64');
    const res = await fetch(rs.meta.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
    });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    return json.access_token;
  }

  test('the metadata flyteadmin reads names flyteauth\'s endpoints', () => {
    assert.equal(rs.meta.issuer, srv.url);
    assert.equal(rs.meta.jwks_uri, `${srv.url}/oauth2/jwks`);
    assert.equal(rs.meta.token_endpoint, `${srv.url}/oauth2/token`);
    assert.ok(rs.meta.grant_types_supported.includes('client_credentials'));
  });

  test('a machine token with the Flyte audience is what flyteadmin accepts', async () => {
    const token = await tokenFor('flyteadmin-bot', { scope: 'all', audience: FLYTE });
    assert.ok(jose.decodeProtectedHeader(token).kid, 'a kid for the remote key set');
    const id = await flyteadminValidate(rs, token);
    assert.equal(id.audience, FLYTE);
    assert.equal(id.subject, 'flyteadmin-bot');
    assert.equal(id.clientId, 'flyteadmin-bot');
    assert.deepEqual(id.scopes, ['all'], 'scp is an array, as flyteadmin reads it');
    // Without the audience the token is for flyteauth itself: flyteadmin says no.
    const own = await tokenFor('flyteadmin-bot', { scope: 'all' });
    await assert.rejects(flyteadminValidate(rs, own), /invalid audience/);
    // A client may not ask for an audience it was not given.
    const bad = await fetch(rs.meta.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`flyteadmin-bot:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'all', audience: 'https://other.example' }),
    });
    assert.equal(bad.status, 400);
  });

  test('a user token (code + PKCE, as flytectl gets one) carries the user to flyteadmin', async () => {
    const t = await codeFlow(srv.url, { clientId: 'flytectl', redirectUri: FLYTECTL_REDIRECT,
      scope: 'all offline', extra: { audience: FLYTE } });
    const id = await flyteadminValidate(rs, t.access_token);
    assert.equal(id.subject, 'alice');
    assert.equal(id.clientId, 'flytectl');
    assert.deepEqual(id.scopes, ['all', 'offline']);
    assert.equal(id.userInfo.preferred_username, 'alice');
    assert.equal(id.email, 'alice@example.com');
    assert.ok(id.scopes.includes('all'), 'flyteadmin\'s blanket authorization');
  });

  test('every kid flyteauth signs with is in the set flyteadmin fetches', async () => {
    // The JWKS lists the current key and, when configured, the old one.
    const jwks = await (await fetch(rs.meta.jwks_uri)).json();
    const token = await tokenFor('flyteadmin-bot', { scope: 'all', audience: FLYTE });
    assert.ok(jwks.keys.some((k) => k.kid === jose.decodeProtectedHeader(token).kid));
    for (const k of jwks.keys) assert.equal(k.d, undefined, 'public keys only');
  });
});

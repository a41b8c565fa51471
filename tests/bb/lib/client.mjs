// client.mjs -- helpers for the client black-box tests: a Self-AS server
// with a local user, a public flytectl client and a confidential CI client
// (flyteClient's redirect URI on a free loopback port, so tests can run
// side by side), a private HOME and cache for each CLI run, the client
// config file, the scripted browser, and the cache file's name.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { freePort, run, startServer, tempDir } from './server.mjs';
import { hashSecret, secretFiles } from './identity.mjs';

export const PASSWORD = 'correct horse battery staple';
export const CI_SECRET = 'ci-secret-' + 'x'.repeat(12) + '+%/&=';
export const BROWSER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)),
  'client_browser.mjs');

export async function startClientServer({ accessTokenLifespan = '30m', extraSelf = '' } = {}) {
  const [alice, ci] = await Promise.all([hashSecret(PASSWORD), hashSecret(CI_SECRET)]);
  const cbPort = await freePort();
  const config = `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  userAuth:
    localUsers: [{username: alice, passwordHash: '${alice}', name: Alice Example, email: alice@example.com}]
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      accessTokenLifespan: ${accessTokenLifespan}
${extraSelf}      staticClients:
        flytectl:
          id: flytectl
          redirect_uris: ['http://localhost:53593/callback', 'http://localhost:${cbPort}/callback']
          grant_types: [authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code]
          response_types: [code]
          scopes: [all, offline]
          public: true
        flytepropeller:
          id: flytepropeller
          client_secret: '${ci}'
          redirect_uris: [http://localhost:3846/callback]
          grant_types: [client_credentials]
          response_types: [token]
          scopes: [all, offline]
          public: false
    thirdPartyConfig:
      flyteClient: {clientId: flytectl, redirectUri: 'http://localhost:${cbPort}/callback', scopes: [all, offline]}
`;
  const srv = await startServer({ config, files: secretFiles() });
  srv.cbPort = cbPort;
  srv.jwks = createRemoteJWKSet(new URL(`${srv.url}/oauth2/jwks`));
  return srv;
}

// A user's machine: its own HOME (no ~/.flyte unless written) and cache.
export function machine() {
  const home = tempDir('fa-bb-client-');
  const cache = path.join(home, 'cache');
  return {
    home,
    cache,
    env: { HOME: home, XDG_CACHE_HOME: cache, BROWSER: '', DISPLAY: '', WAYLAND_DISPLAY: '' },
    file(name, text, mode = 0o600) {
      const p = path.join(home, name);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, text, { mode });
      return p;
    },
    cachePath(endpoint) {
      return path.join(cache, 'flyteauth', `${createHash('sha256').update(endpoint).digest('hex')}.json`);
    },
  };
}

// Runs `flyteauth <args>` on a machine with extra env (no FLYTE_* from the
// test runner leaks in).
export function cli(m, args, env = {}) {
  const clean = {};
  for (const k of Object.keys(process.env)) if (/^FLYTE(CTL)?_/.test(k)) clean[k] = '';
  return run(args, { env: { ...clean, ...m.env, ...env } });
}

export function browserEnv(m, password = PASSWORD) {
  return {
    BROWSER: `${process.execPath} ${BROWSER_SCRIPT}`,
    BB_USER: 'alice',
    BB_PASSWORD: password,
    BB_BROWSER_LOG: path.join(m.home, 'browser.log'),
  };
}

// Verifies an access token against the server's JWKS; returns its claims.
export async function verified(srv, token) {
  const { payload, protectedHeader } = await jwtVerify(token, srv.jwks, {
    issuer: srv.url, audience: srv.url,
  });
  assert.equal(protectedHeader.typ, 'at+jwt');
  return payload;
}

// The server buffers its access log (lines come within a second); SIGUSR1
// makes it write them out, followed by its per-worker line. Resolves once
// that line is in srv.stderr, so every request answered before is logged.
export async function logSettled(srv) {
  const n = (srv.stderr.match(/http: requests per worker:/g) || []).length;
  process.kill(srv.pid, 'SIGUSR1');
  for (let i = 0; i < 250; i++) {
    if ((srv.stderr.match(/http: requests per worker:/g) || []).length > n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the server did not answer SIGUSR1');
}

// Lines of the server's access log for POST /oauth2/token since `from`.
export function tokenPosts(srv, from = 0) {
  return srv.stderr.slice(from).split('\n').filter((l) => / POST \/oauth2\/token \d{3} /.test(l));
}

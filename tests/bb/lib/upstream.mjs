// upstream.mjs -- flyteauth serve as the relying party of an upstream IdP
// (auth.userAuth.openId), for the black-box tests that log users in through
// glewlwyd or oidc-provider: the config as the seed writes it, the client
// secret in the secrets dir under its default name, flytectl (public, Pkce)
// on a free loopback callback port for `flyteauth login`. Returns once the
// IdP's discovery has loaded.
import { browse } from './browser.mjs';
import { freePort, sleep, startServer } from './server.mjs';

export const RP_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

// The flyteauth port is chosen first: the IdP must know the redirect URI
// (<url>/callback) before flyteauth starts and fetches its discovery.
export async function rpPort() {
  const port = await freePort();
  return { port, url: `http://127.0.0.1:${port}`, callback: `http://127.0.0.1:${port}/callback` };
}

export async function startRpServer({ port, baseUrl, clientId, secret, scopes = RP_SCOPES,
  redirectUrl = '/', extraUserAuth = '' } = {}) {
  const cbPort = await freePort();
  const config = `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  userAuth:
    redirectUrl: ${redirectUrl}
    openId:
      baseUrl: '${baseUrl}'
      clientId: ${clientId}
      clientSecretName: oidc_client_secret
      scopes: [${scopes.join(', ')}]
${extraUserAuth}  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      staticClients:
        flytectl:
          id: flytectl
          redirect_uris: ['http://localhost:${cbPort}/callback']
          grant_types: [authorization_code, refresh_token]
          response_types: [code]
          scopes: [all, offline]
          public: true
    thirdPartyConfig:
      flyteClient: {clientId: flytectl, redirectUri: 'http://localhost:${cbPort}/callback', scopes: [all, offline]}
`;
  const srv = await startServer({ config, port, files: { oidc_client_secret: `${secret}\n` } });
  srv.cbPort = cbPort;
  srv.flytectlRedirect = `http://localhost:${cbPort}/callback`;
  // Discovery runs in the background; /login answers 503 until it is done.
  const deadline = Date.now() + 15000;
  while ((await browse(`${srv.url}/login?upstream=1`, null)).status === 503) {
    if (Date.now() > deadline) {
      await srv.stop();
      throw new Error(`the IdP's discovery did not load: ${srv.stderr}`);
    }
    await sleep(50);
  }
  return srv;
}

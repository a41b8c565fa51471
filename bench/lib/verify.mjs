// verify.mjs -- checks, before any load, that a system really issues what
// the benchmark claims to measure: an access token that is a JWT signed
// with the expected algorithm, verifiable with the system's published JWKS
// (npm jose), from the expected issuer.
//
// Usage: node verify.mjs JWKS_URL ISSUER ALG TOKEN
// Prints "<alg> <typ> sub=<sub> aud=<aud>" and exits 0, or the reason and 1.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

const [jwksUrl, issuer, alg, token] = process.argv.slice(2);
if (!jwksUrl || !issuer || !alg || !token) {
  console.error('usage: node verify.mjs JWKS_URL ISSUER ALG TOKEN');
  process.exit(2);
}
try {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload } = await jwtVerify(token, jwks, { issuer, algorithms: [alg] });
  const h = decodeProtectedHeader(token);
  console.log(`${h.alg} ${h.typ ?? '-'} sub=${payload.sub} aud=${JSON.stringify(payload.aud)}`);
} catch (e) {
  console.error(`token does not verify: ${e.code ?? ''} ${e.message}`);
  process.exit(1);
}

/* fuzz_remote_discovery.c -- libFuzzer target for discovery documents, the
 * parser every byte an IdP or external authorization server publishes goes
 * through (fa_discovery_parse). The input is the document; it is read as
 * OpenID configuration and as RFC 8414 metadata, for an ordinary issuer and
 * for Entra ID's multi-tenant endpoint. It must never crash or leak, and a
 * document it accepts must hold the invariants callers rely on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	enum fa_discovery_kind kind;
	const char *issuer, *url;
} cases[] = {
	{ FA_DISCOVERY_OIDC, "https://idp.example.com",
	  "https://idp.example.com/.well-known/openid-configuration" },
	{ FA_DISCOVERY_OAUTH, "https://idp.example.com/oauth2/default/",
	  "https://idp.example.com/oauth2/default/.well-known/oauth-authorization-server" },
	{ FA_DISCOVERY_OIDC, "https://login.microsoftonline.com/common/v2.0",
	  "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration" },
	{ FA_DISCOVERY_OIDC, "http://127.0.0.1:8080",
	  "http://127.0.0.1:8080/.well-known/openid-configuration" },
};

static void check(const struct fa_discovery *d, const char *issuer)
{
	static const char *const names[] = { "issuer", "jwks_uri", "scopes_supported" };
	char out[FA_REMOTE_MAX_URL + 64];
	json_t *claims = json_pack("{s:s}", "tid", "72f988bf-86f1-41af-91ab-2d7cd011db47");
	json_t *sub = NULL;

	if (!d->issuer || !d->authorization_endpoint || !d->token_endpoint || !d->jwks_uri ||
	    !fa_discovery_issuer_matches(issuer, d->issuer, NULL))
		abort();
	if (fa_remote_url_is_https(d->issuer) && !fa_remote_url_is_https(d->jwks_uri))
		abort();
	if (d->id_token_algs & ~FA_JWS_ALGS_ALL)
		abort();
	for (size_t i = 0; i < d->scopes_supported.n; i++)
		if (!d->scopes_supported.v[i] || !d->scopes_supported.v[i][0])
			abort();
	if (!fa_jws_alg_is_rsa(fa_discovery_rsa_alg(d)))
		abort();
	if (fa_discovery_token_issuer(d, claims, out, sizeof(out), NULL) == FA_OK &&
	    !d->issuer_is_template && strcmp(out, d->issuer) != 0)
		abort();
	if (fa_discovery_subset(d, names, 3, &sub, NULL) != FA_OK)
		abort();
	json_decref(sub);
	json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fa_discovery *d = NULL;

		if (fa_discovery_parse(cases[i].kind, cases[i].issuer, cases[i].url,
				       (const char *)data, size, 0, &d, NULL) == FA_OK) {
			check(d, cases[i].issuer);
			fa_discovery_free(d);
		} else if (d) {
			abort();
		}
	}
	return 0;
}

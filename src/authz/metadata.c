/* metadata.c -- the public documents of the authorization server:
 * RFC 8414 metadata at /.well-known/oauth-authorization-server, the same
 * as an OpenID Provider's at /.well-known/openid-configuration (OpenID
 * Connect Discovery 1.0 §3, served when local users are the users), and
 * the public keys at /oauth2/jwks. (Flyte's public client settings,
 * /config/v1/flyte_client, belong to the resource server and are served by
 * the gate in both modes.)
 *
 * All depend only on the config and keys, so they are built here
 * once at start-up; ep_metadata.c serves the bytes, with no JSON work per
 * request.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

static json_t *url(const struct fa_authz *az, const char *path)
{
	size_t n = strlen(az->issuer) + strlen(path) + 1;
	char *s = malloc(n);
	json_t *j;

	if (!s)
		return NULL;
	snprintf(s, n, "%s%s", az->issuer, path);
	j = json_string(s);
	free(s);
	return j;
}

/* Union of what every client may be granted, first-seen order. */
static json_t *scopes_supported(const struct fa_authz *az)
{
	struct fa_scope all;
	struct fa_err e;

	fa_scope_init(&all);
	for (size_t i = 0; i < az->n_clients; i++) {
		for (size_t j = 0; j < az->clients[i].allowed.n; j++) {
			/* Over the cap the list is merely incomplete. */
			if (fa_scope_add(&all, fa_scope_get(&az->clients[i].allowed, j), &e) != FA_OK)
				break;
		}
	}
	return fa_scope_json(&all);
}

static json_t *metadata(const struct fa_authz *az)
{
	static const char *const response_types[] = { "code" };
	static const char *const response_modes[] = { "query", "form_post" };
	static const char *const grants[] = {
		"authorization_code", "refresh_token", "client_credentials",
	};
	static const char *const pkce[] = { "S256" };
	/* "none" (RFC 8414 §2, RFC 7591 §2) is how public clients such as
	 * flytectl authenticate at the token endpoint -- and at the device
	 * endpoint, which RFC 8628 §3.1 ties to the token endpoint's methods.
	 * It grants nothing by itself: PKCE is required of public clients, and
	 * client_credentials and introspection are refused to them. */
	static const char *const token_methods[] = {
		"client_secret_basic", "client_secret_post", "none",
	};
	/* Introspection answers confidential clients only (ep_introspect.c). */
	static const char *const introspect_methods[] = {
		"client_secret_basic", "client_secret_post",
	};
	/* RFC 7009 lets public clients revoke by client_id alone. */
	static const char *const revoke_methods[] = {
		"client_secret_basic", "client_secret_post", "none",
	};
	json_t *doc = json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
		"issuer", az->issuer,
		"authorization_endpoint", url(az, "/oauth2/authorize"),
		"token_endpoint", url(az, "/oauth2/token"),
		"jwks_uri", url(az, "/oauth2/jwks"),
		"introspection_endpoint", url(az, "/oauth2/introspect"),
		"revocation_endpoint", url(az, "/oauth2/revoke"),
		"response_types_supported",
		fa_json_strings(response_types, ARRAY_LEN(response_types)),
		"response_modes_supported",
		fa_json_strings(response_modes, ARRAY_LEN(response_modes)),
		"grant_types_supported", fa_json_strings(grants, ARRAY_LEN(grants)),
		"code_challenge_methods_supported", fa_json_strings(pkce, ARRAY_LEN(pkce)),
		"token_endpoint_auth_methods_supported",
		fa_json_strings(token_methods, ARRAY_LEN(token_methods)),
		"introspection_endpoint_auth_methods_supported",
		fa_json_strings(introspect_methods, ARRAY_LEN(introspect_methods)),
		"revocation_endpoint_auth_methods_supported",
		fa_json_strings(revoke_methods, ARRAY_LEN(revoke_methods)),
		"scopes_supported", scopes_supported(az),
		/* RFC 9207: every authorization response carries iss, so a
		 * client can tell which server answered (mix-up attacks). */
		"authorization_response_iss_parameter_supported", 1);

	/* The device grant (RFC 8628) adds its endpoint and grant type here
	 * once it is enabled. */
	if (doc && az->device_enabled) {
		json_t *g = json_object_get(doc, "grant_types_supported");

		if (json_array_append_new(g, json_string(FA_GRANT_TYPE_DEVICE)) != 0 ||
		    json_object_set_new(doc, "device_authorization_endpoint",
					url(az, "/oauth2/device/authorize")) != 0) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

/* Adds each of v to the array a unless it is there. */
static enum fa_rc array_union(json_t *a, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;
		json_t *x;
		bool have = false;

		json_array_foreach(a, k, x) {
			have = have || strcmp(json_string_value(x), v[i]) == 0;
		}
		if (!have && json_array_append_new(a, json_string(v[i])) != 0)
			return FA_ENOMEM;
	}
	return FA_OK;
}

/* OpenID Connect Discovery 1.0 §3: the RFC 8414 document (same endpoints,
 * grants and auth methods) plus what an OpenID Provider adds. */
static json_t *op_metadata(const struct fa_authz *az)
{
	static const char *const oidc_scopes[] = { "openid", "profile", "email", "offline_access" };
	static const char *const subject_types[] = { "public" };
	static const char *const prompts[] = { "none", "login", "consent", "select_account" };
	/* What an ID token or userinfo can hold (idtoken.c). */
	static const char *const claims[] = {
		"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
		"name", "preferred_username", "given_name", "family_name", "picture", "groups",
		"email", "email_verified",
	};
	const char *alg = fa_jws_alg_name(fa_jwk_alg(az->signing_key));
	json_t *doc = metadata(az);

	if (!doc || array_union(json_object_get(doc, "scopes_supported"), oidc_scopes,
				ARRAY_LEN(oidc_scopes)) != FA_OK ||
	    json_object_set_new(doc, "userinfo_endpoint", url(az, "/oauth2/userinfo")) != 0 ||
	    json_object_set_new(doc, "end_session_endpoint", url(az, "/oauth2/end_session")) != 0 ||
	    json_object_set_new(doc, "id_token_signing_alg_values_supported",
				fa_json_strings(&alg, 1)) != 0 ||
	    json_object_set_new(doc, "subject_types_supported",
				fa_json_strings(subject_types, ARRAY_LEN(subject_types))) != 0 ||
	    json_object_set_new(doc, "claims_supported",
				fa_json_strings(claims, ARRAY_LEN(claims))) != 0 ||
	    json_object_set_new(doc, "prompt_values_supported",
				fa_json_strings(prompts, ARRAY_LEN(prompts))) != 0 ||
	    /* Request objects and the claims parameter are not implemented;
	     * Discovery §3 makes request_uri_parameter_supported default to
	     * true, so each is said outright. */
	    json_object_set_new(doc, "claims_parameter_supported", json_false()) != 0 ||
	    json_object_set_new(doc, "request_parameter_supported", json_false()) != 0 ||
	    json_object_set_new(doc, "request_uri_parameter_supported", json_false()) != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static enum fa_rc dump(json_t *doc, char **out, size_t *len, struct fa_err *err)
{
	*out = NULL;
	if (doc)
		*out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!*out)
		return fa_err_set(err, FA_ENOMEM, "cannot build the public documents");
	*len = strlen(*out);
	if (*len > FA_MAX_RESPONSE)
		return fa_err_set(err, FA_ETOOBIG, "a public document is larger than %d bytes",
				  FA_MAX_RESPONSE);
	return FA_OK;
}

enum fa_rc fa_authz_documents_build(struct fa_authz *az, struct fa_err *err)
{
	enum fa_rc rc;

	rc = dump(metadata(az), &az->metadata_json, &az->metadata_len, err);
	if (rc == FA_OK)
		rc = dump(op_metadata(az), &az->op_json, &az->op_len, err);
	if (rc == FA_OK)
		rc = fa_jwks_format(az->verify_keys, &az->jwks_json, &az->jwks_len, err);
	if (rc == FA_OK && az->jwks_len > FA_MAX_RESPONSE)
		rc = fa_err_set(err, FA_ETOOBIG, "the JWKS is larger than %d bytes", FA_MAX_RESPONSE);
	return rc;
}

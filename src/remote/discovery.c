/* discovery.c -- OpenID Connect Discovery 1.0 and RFC 8414 metadata:
 * where the document lives, what it must say, and the plain struct the
 * rest of flyteauth reads.
 *
 * A document is judged as a whole before anything uses it: the issuer must
 * be the one the operator configured (one trailing '/' aside, and Entra
 * ID's multi-tenant template handled on purpose, see remote.h), the members
 * a relying party needs must be there with the right types, every endpoint
 * must be a URL we may fetch, and an https issuer cannot send us to http.
 * The parsed JSON stays attached to the struct (it owns the strings the
 * struct points at), read-only, for as long as any reference lives.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote_int.h"

/* Entra ID: the multi-tenant endpoints and the issuer they publish. */
#define ENTRA_HOST "https://login.microsoftonline.com/"
#define ENTRA_TEMPLATE ENTRA_HOST "{tenantid}/v2.0"
#define TENANT_PLACEHOLDER "{tenantid}"
#define GUID_LEN 36

/* The reference-counted body behind struct fa_discovery. */
struct disc {
	atomic_int refs;
	json_t *doc;                /* owns every string pub points at */
	char *raw;
	char *url;
	const char **names;         /* storage of every strlist */
	struct fa_discovery pub;
};

static struct disc *disc_of(const struct fa_discovery *d)
{
	return (struct disc *)(uintptr_t)((const char *)d - offsetof(struct disc, pub));
}

/* Endpoint members and where they go. */
static const struct {
	const char *name;
	size_t off;
} endpoints[] = {
	{ "authorization_endpoint", offsetof(struct fa_discovery, authorization_endpoint) },
	{ "token_endpoint", offsetof(struct fa_discovery, token_endpoint) },
	{ "jwks_uri", offsetof(struct fa_discovery, jwks_uri) },
	{ "userinfo_endpoint", offsetof(struct fa_discovery, userinfo_endpoint) },
	{ "end_session_endpoint", offsetof(struct fa_discovery, end_session_endpoint) },
	{ "device_authorization_endpoint",
	  offsetof(struct fa_discovery, device_authorization_endpoint) },
	{ "revocation_endpoint", offsetof(struct fa_discovery, revocation_endpoint) },
	{ "introspection_endpoint", offsetof(struct fa_discovery, introspection_endpoint) },
	{ "registration_endpoint", offsetof(struct fa_discovery, registration_endpoint) },
};

/* List members and where they go. */
static const struct {
	const char *name;
	size_t off;
} lists[] = {
	{ "scopes_supported", offsetof(struct fa_discovery, scopes_supported) },
	{ "response_types_supported", offsetof(struct fa_discovery, response_types_supported) },
	{ "response_modes_supported", offsetof(struct fa_discovery, response_modes_supported) },
	{ "grant_types_supported", offsetof(struct fa_discovery, grant_types_supported) },
	{ "subject_types_supported", offsetof(struct fa_discovery, subject_types_supported) },
	{ "id_token_signing_alg_values_supported",
	  offsetof(struct fa_discovery, id_token_signing_alg_values_supported) },
	{ "token_endpoint_auth_methods_supported",
	  offsetof(struct fa_discovery, token_endpoint_auth_methods_supported) },
	{ "code_challenge_methods_supported",
	  offsetof(struct fa_discovery, code_challenge_methods_supported) },
	{ "claims_supported", offsetof(struct fa_discovery, claims_supported) },
};

/* Required members per kind (OIDC Discovery §3; RFC 8414 §2 plus jwks_uri,
 * which flyteauth needs to verify anything). */
static const char *const required_oidc[] = {
	"authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
	"subject_types_supported", "id_token_signing_alg_values_supported",
};
static const char *const required_oauth[] = {
	"authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
};

static const char *kind_name(enum fa_discovery_kind kind)
{
	return kind == FA_DISCOVERY_OIDC ? "OpenID configuration" : "authorization server metadata";
}

/* ---- where the document lives ------------------------------------------- */

enum fa_rc fa_discovery_url(enum fa_discovery_kind kind, const char *issuer, char *out,
			    size_t cap, struct fa_err *err)
{
	struct fa_url u;
	size_t path_len, prefix;
	enum fa_rc rc;
	int n;

	if ((rc = fa_remote_url_check(issuer, "issuer", err)) != FA_OK)
		return rc;
	if (fa_url_parse(issuer, strlen(issuer), &u, NULL) != FA_OK || u.query)
		return fa_err_set(err, FA_EINVAL, "issuer must not have a query");
	path_len = u.path_len;
	if (path_len && u.path[path_len - 1] == '/')
		path_len--;
	prefix = (size_t)(u.path - issuer);
	if (kind == FA_DISCOVERY_OIDC)
		n = snprintf(out, cap, "%.*s%.*s/.well-known/openid-configuration", (int)prefix,
			     issuer, (int)path_len, u.path);
	else
		/* RFC 8414 §3.1: the well-known segment goes between host and
		 * path. */
		n = snprintf(out, cap, "%.*s/.well-known/oauth-authorization-server%.*s",
			     (int)prefix, issuer, (int)path_len, u.path);
	if (n < 0 || (size_t)n >= cap)
		return fa_err_set(err, FA_ETOOBIG, "metadata URL would be longer than %zu bytes",
				  cap ? cap - 1 : 0);
	return FA_OK;
}

/* ---- issuer --------------------------------------------------------------- */

/* Length without at most one trailing '/'. */
static size_t trimmed(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '/' ? n - 1 : n;
}

static bool entra_multi_tenant(const char *expected)
{
	static const char *const tenants[] = { "common", "organizations", "consumers" };
	size_t n = trimmed(expected), h = strlen(ENTRA_HOST);

	if (n <= h || strncmp(expected, ENTRA_HOST, h) != 0)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(tenants); i++) {
		size_t t = strlen(tenants[i]);

		if (n == h + t + 5 && strncmp(expected + h, tenants[i], t) == 0 &&
		    strncmp(expected + h + t, "/v2.0", 5) == 0)
			return true;
	}
	return false;
}

bool fa_discovery_issuer_matches(const char *expected, const char *issuer, bool *is_template)
{
	size_t le, li;

	if (is_template)
		*is_template = false;
	if (!expected || !issuer)
		return false;
	if (strcmp(issuer, ENTRA_TEMPLATE) == 0) {
		if (!entra_multi_tenant(expected))
			return false;
		if (is_template)
			*is_template = true;
		return true;
	}
	le = trimmed(expected);
	li = trimmed(issuer);
	return le == li && le > 0 && strncmp(expected, issuer, le) == 0;
}

static enum fa_rc check_issuer(const char *expected, const char *issuer, const char *shown,
			       bool *is_template, struct fa_err *err)
{
	struct fa_url u;
	struct fa_err uerr;

	if (strcmp(issuer, ENTRA_TEMPLATE) != 0) {
		fa_err_clear(&uerr);
		if (fa_remote_url_check(issuer, "issuer", &uerr) != FA_OK)
			return fa_err_set(err, FA_EINVAL, "%s: %s", shown, uerr.msg);
		/* OIDC Discovery §3, RFC 8414 §2. */
		if (fa_url_parse(issuer, strlen(issuer), &u, NULL) != FA_OK || u.query)
			return fa_err_set(err, FA_EINVAL, "%s: issuer must not have a query", shown);
	}
	if (!fa_discovery_issuer_matches(expected, issuer, is_template)) {
		if (strchr(issuer, '{'))
			return fa_err_set(err, FA_EDENIED,
					  "%s: issuer \"%.60s\" is a template; only Entra ID's "
					  "multi-tenant endpoints may publish one", shown, issuer);
		if (strncmp(issuer, "https://sts.windows.net/", 24) == 0)
			return fa_err_set(err, FA_EDENIED,
					  "%s: issuer is Entra ID's v1.0 (sts.windows.net); use the v2.0 "
					  "endpoint .../<tenant>/v2.0", shown);
		return fa_err_set(err, FA_EDENIED, "%s: issuer \"%.60s\" is not the expected "
				  "\"%.60s\"", shown, issuer, expected);
	}
	return FA_OK;
}

/* ---- members -------------------------------------------------------------- */

static enum fa_rc opt_string(const json_t *doc, const char *name, const char *shown,
			     const char **out, struct fa_err *err)
{
	const json_t *v = json_object_get(doc, name);

	*out = NULL;
	if (!v || json_is_null(v))
		return FA_OK;
	if (!json_is_string(v))
		return fa_err_set(err, FA_EINVAL, "%s: %s must be a string", shown, name);
	*out = json_string_value(v);
	return FA_OK;
}

static enum fa_rc read_endpoints(const json_t *doc, const char *shown, bool https_only,
				 struct fa_discovery *d, struct fa_err *err)
{
	struct fa_err uerr;
	enum fa_rc rc;

	for (size_t i = 0; i < ARRAY_LEN(endpoints); i++) {
		const char **slot = (const char **)(void *)((char *)d + endpoints[i].off);

		if ((rc = opt_string(doc, endpoints[i].name, shown, slot, err)) != FA_OK)
			return rc;
		if (!*slot)
			continue;
		fa_err_clear(&uerr);
		if (fa_remote_url_check(*slot, endpoints[i].name, &uerr) != FA_OK)
			return fa_err_set(err, FA_EINVAL, "%s: %s", shown, uerr.msg);
		/* An https issuer cannot send its tokens, codes or secrets
		 * over http. */
		if (https_only && !fa_remote_url_is_https(*slot))
			return fa_err_set(err, FA_EDENIED,
					  "%s: %s is http under an https issuer (a downgrade)",
					  shown, endpoints[i].name);
	}
	return FA_OK;
}

static enum fa_rc read_lists(const json_t *doc, const char *shown, struct disc *dc,
			     struct fa_err *err)
{
	size_t total = 0, used = 0;

	for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
		const json_t *v = json_object_get(doc, lists[i].name);

		if (!v || json_is_null(v))
			continue;
		if (!json_is_array(v))
			return fa_err_set(err, FA_EINVAL, "%s: %s must be an array", shown,
					  lists[i].name);
		if (json_array_size(v) > FA_DISCOVERY_MAX_LIST)
			return fa_err_set(err, FA_ETOOBIG, "%s: %s has more than %d entries", shown,
					  lists[i].name, FA_DISCOVERY_MAX_LIST);
		total += json_array_size(v);
	}
	dc->names = calloc(total ? total : 1, sizeof(*dc->names));
	if (!dc->names)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
		const json_t *v = json_object_get(doc, lists[i].name), *e;
		struct fa_strlist *l = (struct fa_strlist *)(void *)((char *)&dc->pub + lists[i].off);
		size_t j;

		if (!json_is_array(v))
			continue;
		l->v = dc->names + used;
		json_array_foreach(v, j, e) {
			if (!json_is_string(e) || json_string_length(e) == 0 ||
			    json_string_length(e) > FA_DISCOVERY_MAX_NAME)
				return fa_err_set(err, FA_EINVAL,
						  "%s: %s must hold strings of 1 to %d bytes", shown,
						  lists[i].name, FA_DISCOVERY_MAX_NAME);
			dc->names[used++] = json_string_value(e);
		}
		l->n = json_array_size(v);
	}
	return FA_OK;
}

static unsigned algs_of(const struct fa_strlist *l)
{
	unsigned mask = 0;
	enum fa_jws_alg a;

	for (size_t i = 0; i < l->n; i++)
		if (fa_jws_alg_parse(l->v[i], &a, NULL) == FA_OK)
			mask |= FA_JWS_ALG_BIT(a);
	return mask;
}

/* ---- the document ------------------------------------------------------------ */

static void disc_destroy(struct disc *dc)
{
	if (!dc)
		return;
	json_decref(dc->doc);
	free(dc->names);
	free(dc->raw);
	free(dc->url);
	free(dc);
}

enum fa_rc fa_discovery_parse(enum fa_discovery_kind kind, const char *expected_issuer,
			      const char *url, const char *text, size_t len, int64_t fetched_at,
			      struct fa_discovery **out, struct fa_err *err)
{
	char shown[FA_REMOTE_SHOWN_URL];
	const char *const *req;
	size_t nreq;
	const char *issuer;
	struct fa_err jerr;
	struct disc *dc = NULL;
	enum fa_rc rc;

	*out = NULL;
	if (kind != FA_DISCOVERY_OIDC && kind != FA_DISCOVERY_OAUTH)
		return fa_err_set(err, FA_EINVAL, "unknown metadata kind");
	if ((rc = fa_remote_url_check(expected_issuer, "expected issuer", err)) != FA_OK ||
	    (rc = fa_remote_url_check(url, "metadata URL", err)) != FA_OK)
		return rc;
	fa_remote_url_redact(url, shown, sizeof(shown));
	if (!text || len > FA_MAX_JWKS)
		return fa_err_set(err, FA_ETOOBIG, "%s: %s is larger than %d bytes", shown,
				  kind_name(kind), FA_MAX_JWKS);
	if (!(dc = calloc(1, sizeof(*dc)))) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	atomic_init(&dc->refs, 1);
	fa_err_clear(&jerr);
	if ((rc = fa_json_load(text, len, kind_name(kind), &dc->doc, &jerr)) != FA_OK) {
		rc = fa_err_set(err, rc, "%s: %s", shown, jerr.msg);
		goto out;
	}
	if ((rc = opt_string(dc->doc, "issuer", shown, &issuer, err)) != FA_OK)
		goto out;
	if (!issuer) {
		rc = fa_err_set(err, FA_EINVAL, "%s: %s has no issuer", shown, kind_name(kind));
		goto out;
	}
	if ((rc = check_issuer(expected_issuer, issuer, shown, &dc->pub.issuer_is_template,
			       err)) != FA_OK)
		goto out;
	dc->pub.kind = kind;
	dc->pub.issuer = issuer;
	/* The template is https (checked by its spelling). */
	if ((rc = read_endpoints(dc->doc, shown, fa_remote_url_is_https(issuer), &dc->pub,
				 err)) != FA_OK ||
	    (rc = read_lists(dc->doc, shown, dc, err)) != FA_OK)
		goto out;
	req = kind == FA_DISCOVERY_OIDC ? required_oidc : required_oauth;
	nreq = kind == FA_DISCOVERY_OIDC ? ARRAY_LEN(required_oidc) : ARRAY_LEN(required_oauth);
	for (size_t i = 0; i < nreq; i++) {
		if (!json_object_get(dc->doc, req[i]) || json_is_null(json_object_get(dc->doc, req[i]))) {
			rc = fa_err_set(err, FA_EINVAL, "%s: %s lacks %s", shown, kind_name(kind),
					req[i]);
			goto out;
		}
	}
	/* flyteauth signs users in with the code flow only. */
	if (kind == FA_DISCOVERY_OIDC && !fa_strlist_has(&dc->pub.response_types_supported, "code")) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"%s: response_types_supported lacks \"code\"", shown);
		goto out;
	}
	dc->pub.id_token_algs = algs_of(&dc->pub.id_token_signing_alg_values_supported);
	if (!(dc->raw = fa_strndup(text, len)) || !(dc->url = strdup(url))) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	dc->pub.raw = dc->raw;
	dc->pub.raw_len = len;
	dc->pub.url = dc->url;
	dc->pub.fetched_at = fetched_at ? fetched_at : fa_now();
	dc->pub.max_age_s = -1;
	*out = &dc->pub;
	dc = NULL;
	rc = FA_OK;
out:
	disc_destroy(dc);
	return rc;
}

enum fa_rc fa_discovery_fetch(const struct fa_remote *r, enum fa_discovery_kind kind,
			      const char *expected_issuer, const char *url,
			      const atomic_bool *cancel, struct fa_discovery **out,
			      struct fa_err *err)
{
	char derived[FA_REMOTE_MAX_URL + 1];
	struct fa_remote_resp resp;
	json_t *doc = NULL;
	enum fa_rc rc;

	*out = NULL;
	if (!url) {
		if ((rc = fa_discovery_url(kind, expected_issuer, derived, sizeof(derived), err)) !=
		    FA_OK)
			return rc;
		url = derived;
	}
	rc = fa_remote_get_json(r, url, FA_MAX_JWKS, kind_name(kind), cancel, &doc, &resp, err);
	json_decref(doc);   /* parsed again, with the policy, from the raw text */
	if (rc != FA_OK)
		return rc;
	rc = fa_discovery_parse(kind, expected_issuer, url, resp.body, resp.len, 0, out, err);
	if (rc == FA_OK)
		(*out)->max_age_s = resp.max_age_s;
	fa_remote_resp_cleanup(&resp);
	return rc;
}

struct fa_discovery *fa_discovery_dup(const struct fa_discovery *d)
{
	struct disc *dc = disc_of(d);

	atomic_fetch_add(&dc->refs, 1);
	return &dc->pub;
}

void fa_discovery_free(struct fa_discovery *d)
{
	struct disc *dc;

	if (!d)
		return;
	dc = disc_of(d);
	if (atomic_fetch_sub(&dc->refs, 1) == 1)
		disc_destroy(dc);
}

bool fa_strlist_has(const struct fa_strlist *list, const char *s)
{
	for (size_t i = 0; s && i < list->n; i++)
		if (strcmp(list->v[i], s) == 0)
			return true;
	return false;
}

enum fa_jws_alg fa_discovery_rsa_alg(const struct fa_discovery *d)
{
	unsigned rsa = d->id_token_algs & FA_JWS_ALGS_RSA;

	/* Exactly one bit set: that one; none or several: the default. */
	if (rsa && !(rsa & (rsa - 1)))
		for (unsigned a = 1; a < 32; a++)
			if (rsa == FA_JWS_ALG_BIT(a))
				return (enum fa_jws_alg)a;
	return FA_JWS_RS256;
}

static bool is_guid(const char *s)
{
	if (!s || strlen(s) != GUID_LEN)
		return false;
	for (size_t i = 0; i < GUID_LEN; i++) {
		char c = s[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

		if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
			return false;
	}
	return true;
}

enum fa_rc fa_discovery_token_issuer(const struct fa_discovery *d, const json_t *claims,
				     char *out, size_t cap, struct fa_err *err)
{
	const char *tid, *at;
	int n;

	if (!d->issuer_is_template) {
		if (fa_strlcpy(out, d->issuer, cap) != FA_OK)
			return fa_err_set(err, FA_ETOOBIG, "issuer is longer than %zu bytes", cap);
		return FA_OK;
	}
	tid = json_string_value(json_object_get(claims, "tid"));
	/* The tenant goes into a URL we compare against: only a GUID. */
	if (!is_guid(tid))
		return fa_err_set(err, FA_EDENIED,
				  "token from a multi-tenant issuer has no tid claim holding a GUID");
	at = strstr(d->issuer, TENANT_PLACEHOLDER);
	n = snprintf(out, cap, "%.*s%s%s", (int)(at - d->issuer), d->issuer, tid,
		     at + strlen(TENANT_PLACEHOLDER));
	if (n < 0 || (size_t)n >= cap)
		return fa_err_set(err, FA_ETOOBIG, "issuer is longer than %zu bytes", cap);
	return FA_OK;
}

enum fa_rc fa_discovery_subset(const struct fa_discovery *d, const char *const *names, size_t n,
			       json_t **out, struct fa_err *err)
{
	const json_t *doc = disc_of(d)->doc;
	json_t *o = json_object();
	enum fa_rc rc = FA_OK;

	*out = NULL;
	if (!o)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(doc, names[i]);

		/* A deep copy: the document is shared read-only by threads. */
		if (v && json_object_set_new(o, names[i], json_deep_copy(v)) != 0) {
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			json_decref(o);
			return rc;
		}
	}
	*out = o;
	return rc;
}

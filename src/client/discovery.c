/* discovery.c -- what the client learns from the endpoint before a flow:
 * the authorization server's metadata (RFC 8414,
 * /.well-known/oauth-authorization-server, which flyteadmin and flyteauth
 * serve for their own or the external authorization server) and Flyte's
 * public client config (/config/v1/flyte_client: client id, redirect URI,
 * scopes, the header to put the token in, audience). Each is fetched once
 * per client object and only when a flow needs it. URLs the server hands
 * out are checked before any secret is sent to them: http(s) only, and
 * https unless the endpoint itself is plain http or the host is loopback. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

bool cl_url_acceptable(const struct fa_client *c, const char *url)
{
	struct fa_url u;

	if (fa_url_parse(url, strlen(url), &u, NULL) != FA_OK)
		return false;
	/* Plain http: only where the operator chose it or nothing leaves the
	 * machine. */
	return u.https || !strncasecmp(c->s.base_url, "http://", 7) ||
	       fa_host_is_loopback(u.host, u.host_len);
}

/* A string member: absent or null is ""; anything else must be a string
 * of at most max bytes. */
static enum fa_rc member_str(const json_t *j, const char *name, size_t max, const char *what,
			     char **out, struct fa_err *err)
{
	const json_t *v = json_object_get(j, name);
	const char *s = "";

	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) > max ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return fa_err_set(err, FA_ENET, "%s: bad \"%s\"", what, name);
		s = json_string_value(v);
	}
	*out = strdup(s);
	return *out ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
}

static enum fa_rc member_url(const struct fa_client *c, const json_t *j, const char *name,
			     const char *what, char **out, struct fa_err *err)
{
	enum fa_rc rc = member_str(j, name, FA_MAX_REDIRECT_URI, what, out, err);

	if (rc == FA_OK && **out && !cl_url_acceptable(c, *out)) {
		char q[120];
		cl_sanitize(*out, q, sizeof(q));
		FA_FREE(*out);
		return fa_err_set(err, FA_ENET, "%s: refusing %s \"%s\": not an https URL", what,
				  name, q);
	}
	return rc;
}

static enum fa_rc fetch(struct fa_client *c, const char *path, const char *what, json_t **out,
			struct fa_err *err)
{
	char url[CL_URL_MAX + 64];
	struct fa_remote_req rq = { .url = url, .max_body = FA_MAX_JWKS };
	struct fa_remote_resp resp;
	enum fa_rc rc;
	int w = snprintf(url, sizeof(url), "%s%s", c->s.base_url, path);

	*out = NULL;
	if (w < 0 || (size_t)w >= sizeof(url))
		return fa_err_set(err, FA_ETOOBIG, "the endpoint URL is too long");
	rc = cl_http(c, &rq, &resp, err);
	if (rc != FA_OK)
		return rc;
	if (resp.status != 200) {
		rc = fa_err_set(err, resp.status == 404 ? FA_EUNSUPPORTED : FA_ENET,
				"%s: %s answered HTTP %ld", what, url, resp.status);
		goto out;
	}
	rc = cl_resp_json(&resp, what, out, err);
out:
	fa_remote_resp_cleanup(&resp);
	return rc;
}

static void md_reset(struct cl_metadata *m)
{
	free(m->issuer);
	free(m->authorization_endpoint);
	free(m->token_endpoint);
	free(m->device_endpoint);
	free(m->revocation_endpoint);
	memset(m, 0, sizeof(*m));
}

static void pub_reset(struct cl_public *p)
{
	free(p->client_id);
	free(p->redirect_uri);
	for (size_t i = 0; i < p->n_scopes; i++)
		free(p->scopes[i]);
	free(p->scopes);
	free(p->authorization_metadata_key);
	free(p->audience);
	memset(p, 0, sizeof(*p));
}

enum fa_rc cl_discover_metadata(struct fa_client *c, struct fa_err *err)
{
	static const char what[] = "authorization server metadata";
	struct cl_metadata *m = &c->md;
	json_t *j = NULL;
	enum fa_rc rc;

	if (m->loaded)
		return FA_OK;
	rc = fetch(c, "/.well-known/oauth-authorization-server", what, &j, err);
	if (rc == FA_OK)
		rc = member_str(j, "issuer", FA_MAX_REDIRECT_URI, what, &m->issuer, err);
	if (rc == FA_OK)
		rc = member_url(c, j, "authorization_endpoint", what, &m->authorization_endpoint, err);
	if (rc == FA_OK)
		rc = member_url(c, j, "token_endpoint", what, &m->token_endpoint, err);
	if (rc == FA_OK)
		rc = member_url(c, j, "device_authorization_endpoint", what, &m->device_endpoint, err);
	if (rc == FA_OK)
		rc = member_url(c, j, "revocation_endpoint", what, &m->revocation_endpoint, err);
	if (rc == FA_OK && !*m->token_endpoint)
		rc = fa_err_set(err, FA_ENET, "%s of %s has no token_endpoint", what, c->s.base_url);
	json_decref(j);
	if (rc == FA_OK)
		m->loaded = true;
	else
		md_reset(m);
	return rc;
}

static enum fa_rc member_scopes(const json_t *j, struct cl_public *p, struct fa_err *err)
{
	const json_t *v = json_object_get(j, "scopes");
	size_t i;
	const json_t *it;

	if (!v || json_is_null(v))
		return FA_OK;
	if (!json_is_array(v) || json_array_size(v) > FA_CONFIG_MAX_LIST)
		return fa_err_set(err, FA_ENET, "flyte_client: bad \"scopes\"");
	p->scopes = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!p->scopes)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	json_array_foreach(v, i, it) {
		const char *s = json_string_value(it);
		if (!s || !*s || strlen(s) > FA_MAX_SCOPE || strpbrk(s, " \t\r\n\"\\"))
			return fa_err_set(err, FA_ENET, "flyte_client: bad scope in \"scopes\"");
		p->scopes[p->n_scopes] = strdup(s);
		if (!p->scopes[p->n_scopes])
			return fa_err_set(err, FA_ENOMEM, "out of memory");
		p->n_scopes++;
	}
	return FA_OK;
}

enum fa_rc cl_discover_public(struct fa_client *c, struct fa_err *err)
{
	static const char what[] = "flyte_client config";
	struct cl_public *p = &c->pub;
	json_t *j = NULL;
	enum fa_rc rc;

	if (p->loaded)
		return FA_OK;
	rc = fetch(c, "/config/v1/flyte_client", what, &j, err);
	if (rc == FA_OK)
		rc = member_str(j, "client_id", FA_MAX_ID, what, &p->client_id, err);
	if (rc == FA_OK)
		rc = member_str(j, "redirect_uri", FA_MAX_REDIRECT_URI, what, &p->redirect_uri, err);
	if (rc == FA_OK)
		rc = member_str(j, "authorization_metadata_key", FA_CLIENT_MAX_HEADER_NAME, what,
				&p->authorization_metadata_key, err);
	if (rc == FA_OK)
		rc = member_str(j, "audience", FA_MAX_REDIRECT_URI, what, &p->audience, err);
	if (rc == FA_OK)
		rc = member_scopes(j, p, err);
	json_decref(j);
	if (rc == FA_OK)
		p->loaded = true;
	else
		pub_reset(p);
	return rc;
}

void cl_discovery_cleanup(struct fa_client *c)
{
	md_reset(&c->md);
	pub_reset(&c->pub);
}

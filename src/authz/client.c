/* client.c -- who is calling the token, introspection and revocation
 * endpoints: client lookup in the sorted table built at start-up, and
 * client authentication (RFC 6749 §2.3) by client_secret_basic or
 * client_secret_post, or by client_id alone for public clients.
 *
 * Secrets are checked with bcrypt through the secrets module's remembered-
 * check cache, so a machine client pays bcrypt once per cache lifetime and
 * the hot path is one HMAC. An unknown client presenting a secret costs a
 * dummy bcrypt check and gets the same answer as a wrong secret, so neither
 * timing nor wording tells which client ids exist. No HTTP here: the
 * endpoint passes the header and form values in.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz/authz_int.h"

#define AUTH_FAILED "client authentication failed"

static const struct {
	const char *name;
	unsigned bit;
} grant_names[] = {
	{ "authorization_code", FA_GRANT_CODE },
	{ "refresh_token", FA_GRANT_REFRESH },
	{ "client_credentials", FA_GRANT_CLIENT_CREDENTIALS },
	{ FA_GRANT_TYPE_DEVICE, FA_GRANT_DEVICE },
};

unsigned fa_authz_grant_bit(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(grant_names); i++) {
		if (strcmp(name, grant_names[i].name) == 0)
			return grant_names[i].bit;
	}
	return 0;
}

static int client_cmp(const void *key, const void *elem)
{
	const struct fa_authz_client *c = elem;

	return strcmp(key, c->id);
}

const struct fa_authz_client *fa_authz_client_get(const struct fa_authz *az, const char *id)
{
	if (id == NULL || az->n_clients == 0)
		return NULL;
	return bsearch(id, az->clients, az->n_clients, sizeof(az->clients[0]), client_cmp);
}

bool fa_redirect_match(const char *requested, char *const *registered, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fa_url_redirect_match(requested, registered[i]))
			return true;
	}
	return false;
}

/* application/x-www-form-urlencoded decoding of one Basic part (RFC 6749
 * §2.3.1): '+' is a space, %XX a byte. Control bytes (NUL included) are
 * refused: no id or secret of ours contains one. */
static enum fa_rc form_decode(const char *s, size_t n, char *out, size_t cap,
			      struct fa_err *err)
{
	char buf[FA_AUTHZ_MAX_BASIC + 1];
	size_t len = 0;
	enum fa_rc rc = FA_OK;

	out[0] = '\0';
	if (n >= sizeof(buf) || fa_pct_decode(s, n, FA_PCT_PLUS, buf, &len) != FA_OK) {
		rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
				  "malformed percent-escape in Basic credentials");
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
					  "control character in Basic credentials");
			goto out;
		}
	}
	if (len >= cap) {
		rc = fa_err_oauth(err, FA_ETOOBIG, "invalid_request",
				  "Basic credentials are too long");
		goto out;
	}
	memcpy(out, buf, len + 1);
out:
	fa_memzero(buf, sizeof(buf));
	return rc;
}

enum fa_rc fa_authz_basic_parse(const char *header, char id[FA_MAX_ID + 1],
				char secret[FA_MAX_PASSWORD + 1], struct fa_err *err)
{
	unsigned char dec[FA_AUTHZ_MAX_BASIC + 1];
	size_t n = 0, len;
	const char *p, *colon;
	enum fa_rc rc;

	id[0] = '\0';
	secret[0] = '\0';
	if (header == NULL || strncasecmp(header, "Basic", 5) != 0 ||
	    (header[5] != ' ' && header[5] != '\t'))
		return FA_ENOTFOUND;
	p = header + 5;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strnlen(p, 4 * FA_AUTHZ_MAX_BASIC);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= 4 * FA_AUTHZ_MAX_BASIC / 3)
		return fa_err_oauth(err, FA_ETOOBIG, "invalid_request",
				    "Basic credentials are missing or too long");
	rc = fa_b64_decode(p, len, FA_B64_STD, dec, sizeof(dec) - 1, &n);
	if (rc != FA_OK)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "Basic credentials are not valid base64");
	dec[n] = '\0';
	colon = memchr(dec, ':', n);
	if (!colon) {
		rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
				  "Basic credentials lack the ':' separator");
		goto out;
	}
	rc = form_decode((const char *)dec, (size_t)(colon - (const char *)dec), id, FA_MAX_ID + 1,
			 err);
	if (rc == FA_OK)
		rc = form_decode(colon + 1, n - (size_t)(colon + 1 - (const char *)dec), secret,
				 FA_MAX_PASSWORD + 1, err);
out:
	fa_memzero(dec, sizeof(dec));
	if (rc != FA_OK) {
		id[0] = '\0';
		fa_memzero(secret, FA_MAX_PASSWORD + 1);
	}
	return rc;
}

static enum fa_rc auth_failed(struct fa_err *err)
{
	/* One answer for unknown client, wrong secret and missing secret. */
	return fa_err_oauth(err, FA_EDENIED, "invalid_client", AUTH_FAILED);
}

/* Is a failed check allowed now (a token in the address's and the
 * client's buckets)? On false cr->retry_ms is set. c NULL: unknown client,
 * the address alone. */
static bool fail_allowed(struct fa_authz *az, struct fa_authz_creds *cr,
			 const struct fa_authz_client *c)
{
	int64_t now = fa_mono_ms(), wait = 0, w2 = 0;
	bool ok = true;

	if (cr->addr && !fa_limiter_peek(az->fail_addr, cr->addr, strlen(cr->addr), now, &wait))
		ok = false;
	if (c && !fa_limiter_peek(az->fail_client, c->id, strlen(c->id), now, &w2)) {
		ok = false;
		if (w2 > wait)
			wait = w2;
	}
	cr->retry_ms = ok ? 0 : wait;
	return ok;
}

static void fail_count(struct fa_authz *az, const struct fa_authz_creds *cr,
		       const struct fa_authz_client *c)
{
	int64_t now = fa_mono_ms();

	if (cr->addr)
		(void)fa_limiter_take(az->fail_addr, cr->addr, strlen(cr->addr), now, NULL);
	if (c)
		(void)fa_limiter_take(az->fail_client, c->id, strlen(c->id), now, NULL);
}

/* Before any bcrypt: the throttle, then whether this call may block. */
static enum fa_rc before_bcrypt(struct fa_authz *az, struct fa_authz_creds *cr,
				const struct fa_authz_client *c, struct fa_err *err)
{
	if (!fail_allowed(az, cr, c))
		return fa_err_oauth(err, FA_EDENIED, "slow_down",
				    "too many failed client authentications; try again in %lld "
				    "seconds", (long long)((cr->retry_ms + 999) / 1000));
	if (cr->no_block) {
		cr->needs_block = true;
		return fa_err_set(err, FA_EEXIST, "client authentication needs bcrypt");
	}
	return FA_OK;
}

static enum fa_rc check_secret(struct fa_authz *az, struct fa_authz_creds *cr,
			       const struct fa_authz_client *c, const char *secret, size_t len,
			       struct fa_err *err)
{
	struct fa_err e;
	enum fa_rc rc;

	/* A remembered check answers without bcrypt and without the
	 * throttle: the right secret always gets through. */
	for (size_t i = 0; i < c->n_hashes; i++)
		if (fa_secret_cache_hit(az->secret_cache, c->id, c->hashes[i], secret, len))
			return FA_OK;
	rc = before_bcrypt(az, cr, c, err);
	if (rc != FA_OK)
		return rc;
	for (size_t i = 0; i < c->n_hashes; i++) {
		fa_err_clear(&e);
		rc = fa_secret_check_cached(az->secret_cache, c->id, c->hashes[i], secret, len, &e);
		if (rc == FA_OK)
			return FA_OK;
		if (rc != FA_EDENIED) {
			fa_log(az->log, FA_LOG_ERROR, "client %s: secret check failed: %s", c->id,
			       e.msg);
			return fa_err_oauth(err, rc, "server_error",
					    "client secret could not be checked");
		}
	}
	fail_count(az, cr, c);
	return auth_failed(err);
}

enum fa_rc fa_authz_client_auth(struct fa_authz *az, struct fa_authz_creds *cr,
				const struct fa_authz_client **out, bool *used_basic,
				struct fa_err *err)
{
	char bid[FA_MAX_ID + 1];
	char bsecret[FA_MAX_PASSWORD + 1];
	const char *id, *secret = NULL;
	const struct fa_authz_client *c;
	size_t slen = 0;
	enum fa_rc rc;
	bool basic;

	*out = NULL;
	*used_basic = false;
	cr->needs_block = false;
	cr->retry_ms = 0;
	rc = fa_authz_basic_parse(cr->authorization, bid, bsecret, err);
	basic = rc != FA_ENOTFOUND;
	*used_basic = basic;
	if (basic && rc != FA_OK)
		goto out;
	rc = FA_OK;
	if (basic) {
		/* RFC 6749 §2.3: one authentication method per request. */
		if (cr->client_secret != NULL) {
			rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
					  "client credentials sent both in the Authorization "
					  "header and in the body; use one method");
			goto out;
		}
		if (cr->client_id != NULL && strcmp(cr->client_id, bid) != 0) {
			rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
					  "client_id in the body differs from the Authorization header");
			goto out;
		}
		id = bid;
		if (bsecret[0] != '\0')
			secret = bsecret;
	} else {
		id = cr->client_id;
		secret = cr->client_secret;
	}
	if (id == NULL || id[0] == '\0') {
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_client",
				  "client authentication is required");
		goto out;
	}
	if (secret) {
		slen = strnlen(secret, FA_MAX_PASSWORD + 1);
		if (slen > FA_MAX_PASSWORD) {
			rc = auth_failed(err);
			goto out;
		}
	}
	c = fa_authz_client_get(az, id);
	if (c == NULL) {
		if (secret) {
			struct fa_err e;

			rc = before_bcrypt(az, cr, NULL, err);
			if (rc != FA_OK)
				goto out;
			/* Same cost as a real check, so the answer's timing does
			 * not say the client does not exist. */
			if (fa_secret_check_dummy(secret, slen, &e) == FA_OK)
				fa_log(az->log, FA_LOG_ERROR, "dummy secret check passed");
			fail_count(az, cr, NULL);
		}
		rc = auth_failed(err);
		goto out;
	}
	if (c->is_public) {
		if (secret) {
			rc = fa_err_oauth(err, FA_EDENIED, "invalid_client",
					  "a public client must not send a client secret");
			goto out;
		}
		*out = c;
		goto out;
	}
	if (!secret) {
		rc = auth_failed(err);
		goto out;
	}
	rc = check_secret(az, cr, c, secret, slen, err);
	if (rc == FA_OK)
		*out = c;
out:
	fa_memzero(bsecret, sizeof(bsecret));
	return rc;
}

/* jwt.c -- JSON Web Token claims (RFC 7519) on top of compact JWS: signing
 * a claims object, and the checks a verifier owes every token: typ
 * (RFC 8725 §3.11 explicit typing, RFC 9068 "at+jwt"), exp/nbf/iat with a
 * bounded leeway, iss and aud.
 *
 * The defaults are the strict ones: a token without exp is refused (it
 * would never expire), a zeroed rules struct refuses everything (empty
 * allowlist). This file knows nothing about scopes or subjects; callers
 * read those from the returned claims.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jose/jose_int.h"

/* NumericDate values beyond this are nonsense (year 33658); bounding them
 * keeps the arithmetic below free of overflow. */
#define NUMERIC_DATE_MAX 1000000000000LL
#define LEEWAY_MAX (24 * 3600)

void fa_jwt_rules_init(struct fa_jwt_rules *rules)
{
	memset(rules, 0, sizeof(*rules));
	rules->algs = FA_JWS_ALGS_ALL;
	rules->leeway = FA_JWT_DEFAULT_LEEWAY;
	/* A token without "exp" never expires, so require it by default. */
	rules->require_exp = true;
}

enum fa_rc fa_jwt_sign(const struct fa_jwk *key, const char *typ, const json_t *extra_header,
		       const json_t *claims, char **out, struct fa_err *err)
{
	char buf[FA_MAX_TOKEN];
	size_t n;

	*out = NULL;
	if (!json_is_object(claims))
		return fa_err_set(err, FA_EINVAL, "JWT claims are not a JSON object");
	n = json_dumpb(claims, buf, sizeof(buf), JSON_COMPACT);
	if (n == 0 || n > sizeof(buf))
		return fa_err_set(err, FA_ETOOBIG, "JWT claims are larger than %d bytes",
				  FA_MAX_TOKEN);
	return fa_jws_sign(key, typ, extra_header, buf, n, out, err);
}

/* "application/at+jwt" and "AT+JWT" both name at+jwt (RFC 8725 §3.11,
 * RFC 7515 §4.1.9: media types are case-insensitive, prefix optional). */
static const char *media_subtype(const char *t)
{
	static const char prefix[] = "application/";

	if (strncasecmp(t, prefix, sizeof(prefix) - 1) == 0)
		return t + sizeof(prefix) - 1;
	return t;
}

static enum fa_rc check_typ(const char *want, const json_t *header, struct fa_err *err)
{
	const json_t *t = json_object_get(header, "typ");

	if (!want)
		return FA_OK;
	if (!t)
		return fa_err_set(err, FA_EDENIED, "token has no typ header (expected %s)", want);
	if (!json_is_string(t))
		return fa_err_set(err, FA_EINVAL, "token typ header is not a string");
	if (!fa_str_ieq(media_subtype(json_string_value(t)), media_subtype(want)))
		return fa_err_set(err, FA_EDENIED, "token typ is not %s", want);
	return FA_OK;
}

/* Reads an optional NumericDate claim; *present false when absent. */
static enum fa_rc numeric_date(const json_t *claims, const char *name, int64_t *v,
			       bool *present, struct fa_err *err)
{
	const json_t *j = json_object_get(claims, name);
	double d;

	*present = j != NULL;
	*v = 0;
	if (!j)
		return FA_OK;
	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);

		if (i > NUMERIC_DATE_MAX || i < -NUMERIC_DATE_MAX)
			return fa_err_set(err, FA_EINVAL, "claim %s is out of range", name);
		*v = (int64_t)i;
		return FA_OK;
	}
	if (json_is_real(j)) {
		d = json_real_value(j);
		if (!(d <= (double)NUMERIC_DATE_MAX && d >= -(double)NUMERIC_DATE_MAX))
			return fa_err_set(err, FA_EINVAL, "claim %s is out of range", name);
		*v = (int64_t)d;   /* truncation: at most one second early */
		return FA_OK;
	}
	return fa_err_set(err, FA_EINVAL, "claim %s is not a number", name);
}

static enum fa_rc check_times(const struct fa_jwt_rules *rules, const json_t *claims,
			      struct fa_err *err)
{
	int64_t now = rules->now ? rules->now : fa_now(), lw = rules->leeway, exp, nbf, iat;
	bool has_exp, has_nbf, has_iat;
	enum fa_rc rc;

	if (lw < 0 || lw > LEEWAY_MAX)
		return fa_err_set(err, FA_EINVAL, "leeway must be 0 to %d seconds", LEEWAY_MAX);
	if (now <= 0 || now > NUMERIC_DATE_MAX)
		return fa_err_set(err, FA_EINVAL, "current time is out of range");
	if ((rc = numeric_date(claims, "exp", &exp, &has_exp, err)) != FA_OK ||
	    (rc = numeric_date(claims, "nbf", &nbf, &has_nbf, err)) != FA_OK ||
	    (rc = numeric_date(claims, "iat", &iat, &has_iat, err)) != FA_OK)
		return rc;
	if (!has_exp && rules->require_exp)
		return fa_err_set(err, FA_EDENIED, "token has no exp claim and would never expire");
	if (has_exp && now >= exp + lw)
		return fa_err_set(err, FA_EEXPIRED, "token expired %lld seconds ago",
				  (long long)(now - exp));
	if (has_nbf && now + lw < nbf)
		return fa_err_set(err, FA_EDENIED, "token is not valid yet (nbf in %lld seconds)",
				  (long long)(nbf - now));
	if (has_iat && iat > now + lw)
		return fa_err_set(err, FA_EDENIED, "token was issued in the future (iat in %lld seconds)",
				  (long long)(iat - now));
	return FA_OK;
}

static bool aud_listed(const struct fa_jwt_rules *rules, const char *aud)
{
	for (size_t i = 0; i < rules->n_audiences; i++)
		if (rules->audiences[i] && strcmp(rules->audiences[i], aud) == 0)
			return true;
	return false;
}

static enum fa_rc check_aud(const struct fa_jwt_rules *rules, const json_t *claims,
			    struct fa_err *err)
{
	const json_t *aud = json_object_get(claims, "aud"), *v;
	bool match = false;
	size_t i;

	if (!rules->audiences)
		return FA_OK;
	if (!aud)
		return fa_err_set(err, FA_EDENIED, "token has no aud claim");
	if (json_is_string(aud)) {
		match = aud_listed(rules, json_string_value(aud));
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v))
				return fa_err_set(err, FA_EINVAL, "claim aud holds a non-string");
			match = match || aud_listed(rules, json_string_value(v));
		}
	} else {
		return fa_err_set(err, FA_EINVAL, "claim aud is neither a string nor an array");
	}
	if (!match)
		return fa_err_set(err, FA_EDENIED, "token aud is not an accepted audience");
	return FA_OK;
}

enum fa_rc fa_jwt_claims_check(const struct fa_jwt_rules *rules, const json_t *header,
			       const json_t *claims, struct fa_err *err)
{
	const json_t *iss;
	enum fa_rc rc;

	if (!json_is_object(claims) || !json_is_object(header))
		return fa_err_set(err, FA_EINVAL, "JWT header and claims must be JSON objects");
	if ((rc = check_typ(rules->typ, header, err)) != FA_OK ||
	    (rc = check_times(rules, claims, err)) != FA_OK)
		return rc;
	if (rules->issuer) {
		iss = json_object_get(claims, "iss");
		if (!iss)
			return fa_err_set(err, FA_EDENIED, "token has no iss claim");
		if (!json_is_string(iss))
			return fa_err_set(err, FA_EINVAL, "claim iss is not a string");
		if (strcmp(json_string_value(iss), rules->issuer) != 0)
			return fa_err_set(err, FA_EDENIED, "token iss is not %.100s", rules->issuer);
	}
	return check_aud(rules, claims, err);
}

enum fa_rc fa_jwt_verify(const struct fa_jwks *keys, const struct fa_jwt_rules *rules,
			 const char *token, size_t len, json_t **claims, json_t **header,
			 struct fa_err *err)
{
	struct fa_jws jws;
	enum fa_rc rc;

	*claims = NULL;
	if (header)
		*header = NULL;
	if (!rules)
		return fa_err_set(err, FA_EINVAL, "JWT verification needs rules");
	if ((rc = fa_jws_verify(keys, rules->algs, token, len, &jws, err)) != FA_OK)
		return rc;
	if ((rc = fa_jwt_claims_check(rules, jws.header, jws.payload, err)) != FA_OK)
		goto out;
	*claims = json_incref(jws.payload);
	if (header)
		*header = json_incref(jws.header);
out:
	fa_jws_cleanup(&jws);
	return rc;
}

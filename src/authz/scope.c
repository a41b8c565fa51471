/* scope.c -- OAuth 2.0 scope values (RFC 6749 §3.3) as small, bounded sets:
 * parsing with the RFC grammar, subset tests for "may this client have it"
 * and "may this refresh narrow to it", and formatting back to the wire.
 *
 * Pure logic: no HTTP, no store, no allocation except fa_scope_json. A set
 * lives in one fixed-size struct, so it can be copied and kept on the stack.
 */
#include <string.h>

#include "authz/authz_int.h"

static enum fa_rc scope_err(struct fa_err *err, enum fa_rc rc, const char *msg)
{
	return fa_err_oauth(err, rc, "invalid_scope", "%s", msg);
}

void fa_scope_init(struct fa_scope *sc)
{
	sc->n = 0;
	sc->used = 0;
	sc->buf[0] = '\0';
}

const char *fa_scope_get(const struct fa_scope *sc, size_t i)
{
	return i < sc->n ? sc->buf + sc->off[i] : "";
}

bool fa_scope_has(const struct fa_scope *sc, const char *tok)
{
	for (size_t i = 0; i < sc->n; i++) {
		if (strcmp(sc->buf + sc->off[i], tok) == 0)
			return true;
	}
	return false;
}

static enum fa_rc scope_add_n(struct fa_scope *sc, const char *tok, size_t len,
			      struct fa_err *err)
{
	if (len == 0)
		return scope_err(err, FA_EINVAL, "empty scope token");
	if (!fa_scope_token_ok(tok, len))
		return scope_err(err, FA_EINVAL, "scope token has a character RFC 6749 "
				 "does not allow");
	for (size_t i = 0; i < sc->n; i++) {
		const char *have = sc->buf + sc->off[i];

		if (strlen(have) == len && memcmp(have, tok, len) == 0)
			return FA_OK;   /* a repeated token adds nothing */
	}
	if (sc->n >= FA_MAX_SCOPES)
		return scope_err(err, FA_ETOOBIG, "too many scope tokens");
	if (sc->used + len + 1 > sizeof(sc->buf))
		return scope_err(err, FA_ETOOBIG, "scope is too long");
	sc->off[sc->n++] = (uint16_t)sc->used;
	memcpy(sc->buf + sc->used, tok, len);
	sc->used += len;
	sc->buf[sc->used++] = '\0';
	return FA_OK;
}

enum fa_rc fa_scope_add(struct fa_scope *sc, const char *tok, struct fa_err *err)
{
	size_t len = strnlen(tok, FA_MAX_SCOPE + 1);

	if (len > FA_MAX_SCOPE)
		return scope_err(err, FA_ETOOBIG, "scope is too long");
	return scope_add_n(sc, tok, len, err);
}

enum fa_rc fa_scope_parse(const char *s, struct fa_scope *out, struct fa_err *err)
{
	size_t len;
	const char *p, *end;
	enum fa_rc rc;

	fa_scope_init(out);
	if (s == NULL || s[0] == '\0')
		return FA_OK;
	len = strnlen(s, FA_MAX_SCOPE + 1);
	if (len > FA_MAX_SCOPE)
		return scope_err(err, FA_ETOOBIG, "scope is longer than 1024 bytes");
	p = s;
	end = s + len;
	for (;;) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *tok_end = sp ? sp : end;

		/* Empty tokens (leading, trailing or doubled spaces) break the
		 * grammar; scope_add_n refuses them. */
		rc = scope_add_n(out, p, (size_t)(tok_end - p), err);
		if (rc != FA_OK) {
			fa_scope_init(out);
			return rc;
		}
		if (!sp)
			break;
		p = sp + 1;
	}
	return FA_OK;
}

enum fa_rc fa_scope_from_list(char *const *items, size_t n, struct fa_scope *out,
			      struct fa_err *err)
{
	fa_scope_init(out);
	for (size_t i = 0; i < n; i++) {
		enum fa_rc rc = fa_scope_add(out, items[i], err);

		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

bool fa_scope_subset(const struct fa_scope *a, const struct fa_scope *b)
{
	for (size_t i = 0; i < a->n; i++) {
		if (!fa_scope_has(b, a->buf + a->off[i]))
			return false;
	}
	return true;
}

void fa_scope_format(const struct fa_scope *sc, char *out, size_t cap)
{
	size_t w = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sc->n; i++) {
		const char *t = sc->buf + sc->off[i];
		size_t len = strlen(t);

		if (w + (i ? 1 : 0) + len + 1 > cap)
			return;   /* cannot happen with cap > FA_MAX_SCOPE */
		if (i)
			out[w++] = ' ';
		memcpy(out + w, t, len);
		w += len;
		out[w] = '\0';
	}
}

json_t *fa_scope_json(const struct fa_scope *sc)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < sc->n; i++) {
		if (json_array_append_new(a, json_string(sc->buf + sc->off[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

bool fa_scope_has_offline(const struct fa_scope *sc)
{
	return fa_scope_has(sc, "offline") || fa_scope_has(sc, "offline_access");
}

enum fa_rc fa_scope_allowed_build(const struct fa_scope *configured, bool logs_in,
				  struct fa_scope *out, struct fa_err *err)
{
	static const char *const oidc[] = { "openid", "profile", "email" };
	enum fa_rc rc = FA_OK;

	*out = *configured;
	if (fa_scope_has_offline(configured)) {
		rc = fa_scope_add(out, "offline", err);
		if (rc == FA_OK)
			rc = fa_scope_add(out, "offline_access", err);
	}
	for (size_t i = 0; logs_in && rc == FA_OK && i < ARRAY_LEN(oidc); i++)
		rc = fa_scope_add(out, oidc[i], err);
	return rc;
}

enum fa_rc fa_scope_narrow(const struct fa_scope *want, const struct fa_scope *allowed,
			   struct fa_scope *out, struct fa_err *err)
{
	fa_scope_init(out);
	for (size_t i = 0; i < want->n; i++) {
		const char *t = fa_scope_get(want, i);

		/* Both sets are bounded alike, so a subset always fits. */
		if (fa_scope_has(allowed, t) && fa_scope_add(out, t, err) != FA_OK)
			return FA_ETOOBIG;
	}
	if (want->n > 0 && out->n == 0)
		return scope_err(err, FA_EDENIED, "none of the requested scopes is allowed for "
				 "this client");
	return FA_OK;
}

enum fa_rc fa_scope_request(const char *requested, const struct fa_scope *dflt,
			    const struct fa_scope *allowed, struct fa_scope *out,
			    struct fa_err *err)
{
	struct fa_scope want;
	enum fa_rc rc = fa_scope_parse(requested, &want, err);

	if (rc != FA_OK)
		return rc;
	if (want.n == 0)
		want = *dflt;   /* RFC 6749 §3.3: the documented default */
	return fa_scope_narrow(&want, allowed, out, err);
}

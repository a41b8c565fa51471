/* form.c -- strict parsing of application/x-www-form-urlencoded text: query
 * strings and form bodies.
 *
 * OAuth decisions hang on these values (redirect_uri, code_verifier,
 * grant_type), so the parser refuses anything two readers could understand
 * differently: a malformed %-escape, a NUL byte, invalid UTF-8, a name sent
 * twice (RFC 6749 §3.1), too many or too long fields. It does not look at
 * what the parameters mean, and it never quotes a value in an error (a
 * value may be a code or a password).
 */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* Longest name we echo in an error message. */
#define NAME_IN_MSG 40

bool fa_http_utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t len;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			len = 2; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4; cp = c & 0x07; min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Writes a printable, bounded rendering of a (decoded) name for messages. */
static void name_for_msg(const char *s, size_t n, char out[NAME_IN_MSG + 4])
{
	size_t i, o = 0;

	for (i = 0; i < n && o < NAME_IN_MSG; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') ? (char)c : '?';
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* "<what> <name><suffix>", e.g. "parameter state repeated". */
static enum fa_rc bad(struct fa_err *err, enum fa_rc rc, const char *what, const char *name,
		      size_t name_len, const char *suffix)
{
	char shown[NAME_IN_MSG + 4];

	if (!name)
		return fa_err_oauth(err, rc, "invalid_request", "%s%s", what, suffix);
	name_for_msg(name, name_len, shown);
	return fa_err_oauth(err, rc, "invalid_request", "%s %s%s", what, shown, suffix);
}

/* Percent-decodes raw[0..n) into arena memory. `which` says what is being
 * decoded ("parameter name", "parameter") for messages; `name` is the
 * already-decoded name when decoding a value. */
static enum fa_rc decode(struct fa_arena *a, const char *raw, size_t n, const char *which,
			 const char *name, size_t name_len, char **out, size_t *outlen,
			 struct fa_err *err)
{
	char *d;
	size_t i, o = 0;
	char what[64];

	/* Every decoded byte takes at least one raw byte and at most three. */
	if (n > 3 * (size_t)FA_MAX_FIELD_VALUE) {
		return bad(err, FA_ETOOBIG, which, name, name_len, " too long");
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c < 0x20 || c == 0x7F) {
			/* A raw control character: a client encodes these. */
			snprintf(what, sizeof(what), "control character in %s", which);
			return bad(err, FA_EINVAL, what, name, name_len, "");
		}
	}
	d = fa_arena_alloc(a, n + 1);
	if (!d)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (fa_pct_decode(raw, n, FA_PCT_PLUS, d, &o) != FA_OK) {
		snprintf(what, sizeof(what), "bad percent-encoding in %s", which);
		return bad(err, FA_EINVAL, what, name, name_len, "");
	}
	if (memchr(d, '\0', o)) {
		snprintf(what, sizeof(what), "NUL byte in %s", which);
		return bad(err, FA_EINVAL, what, name, name_len, "");
	}
	if (o > FA_MAX_FIELD_VALUE)
		return bad(err, FA_ETOOBIG, which, name, name_len, " too long");
	if (!fa_http_utf8_ok(d, o)) {
		snprintf(what, sizeof(what), "invalid UTF-8 in %s", which);
		return bad(err, FA_EINVAL, what, name, name_len, "");
	}
	*out = d;
	*outlen = o;
	return FA_OK;
}

enum fa_rc fa_http_params_parse(struct fa_arena *a, const char *s, size_t n, struct fa_kvs *out,
				struct fa_err *err)
{
	struct fa_kv *v = NULL;
	size_t count = 0;
	const char *p = s, *end = s + n;
	enum fa_rc rc = FA_OK;

	out->v = NULL;
	out->n = 0;
	if (n == 0)
		goto out;
	v = fa_arena_alloc(a, FA_MAX_FIELDS * sizeof(*v));
	if (!v) {
		rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
		goto out;
	}
	for (;;) {
		const char *seg_end = memchr(p, '&', (size_t)(end - p));
		const char *eq;
		char *name, *value;
		size_t name_len, value_len;

		if (!seg_end)
			seg_end = end;
		if (seg_end == p)
			goto next;            /* empty segment */
		eq = memchr(p, '=', (size_t)(seg_end - p));
		if (eq == p) {
			rc = bad(err, FA_EINVAL, "empty parameter name", NULL, 0, "");
			goto out;
		}
		if (count == FA_MAX_FIELDS) {
			rc = fa_err_oauth(err, FA_ETOOBIG, "invalid_request",
					  "too many parameters (at most %d)", FA_MAX_FIELDS);
			goto out;
		}
		rc = decode(a, p, (size_t)((eq ? eq : seg_end) - p), "parameter name", NULL, 0,
			    &name, &name_len, err);
		if (rc != FA_OK)
			goto out;
		if (eq)
			rc = decode(a, eq + 1, (size_t)(seg_end - eq - 1), "parameter", name,
				    name_len, &value, &value_len, err);
		else
			rc = decode(a, "", 0, "parameter", name, name_len, &value, &value_len, err);
		if (rc != FA_OK)
			goto out;
		for (size_t i = 0; i < count; i++) {
			if (v[i].name_len == name_len && memcmp(v[i].name, name, name_len) == 0) {
				/* RFC 6749 §3.1: MUST NOT be included more than once. */
				rc = bad(err, FA_EINVAL, "parameter", name, name_len, " repeated");
				goto out;
			}
		}
		v[count].name = name;
		v[count].name_len = name_len;
		v[count].value = value;
		v[count].value_len = value_len;
		count++;
next:
		if (seg_end == end)
			break;
		p = seg_end + 1;
	}
	out->v = v;
	out->n = count;
out:
	return rc;
}

const char *fa_http_kvs_get(const struct fa_kvs *kvs, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < kvs->n; i++) {
		const struct fa_kv *kv = &kvs->v[i];

		if (kv->name_len == len && memcmp(kv->name, name, len) == 0)
			return (kv->value && kv->value_len) ? kv->value : NULL;
	}
	return NULL;
}

bool fa_http_is_form_type(const char *ct)
{
	static const char form[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form) - 1;

	if (!ct || strncasecmp(ct, form, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

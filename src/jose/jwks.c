/* jwks.c -- JSON Web Key Sets (RFC 7517 §5): parsing an issuer's published
 * set, building our own from keys, lookup by kid, and serialising the public
 * set for /oauth2/jwks in insertion order (current key, then the old one).
 *
 * A parsed set keeps only what a verifier can use: public parts of supported
 * signature keys. Entries of other kinds are counted and skipped so that an
 * issuer adding, say, an encryption key does not break sign-in; a malformed
 * supported key fails the document, since that means the set is corrupt.
 * Sets do not fetch or cache anything; that is the caller's job.
 */
#include <stdlib.h>
#include <string.h>

#include "jose/jose_int.h"

enum fa_rc fa_jwks_new(struct fa_jwks **out, struct fa_err *err)
{
	struct fa_jwks *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	atomic_init(&s->refs, 1);
	*out = s;
	return FA_OK;
}

struct fa_jwks *fa_jwks_dup(const struct fa_jwks *set)
{
	/* Immutable apart from the atomic counter. */
	struct fa_jwks *s = (struct fa_jwks *)(uintptr_t)set;

	atomic_fetch_add(&s->refs, 1);
	return s;
}

void fa_jwks_free(struct fa_jwks *set)
{
	if (!set || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	for (size_t i = 0; i < set->n; i++)
		fa_jwk_free(set->keys[i]);
	free(set);
}

static enum fa_rc append(struct fa_jwks *set, const struct fa_jwk *key, struct fa_err *err)
{
	if (set->n >= FA_JOSE_MAX_KEYS)
		return fa_err_set(err, FA_ETOOBIG, "key set holds at most %d keys",
				  FA_JOSE_MAX_KEYS);
	set->keys[set->n++] = fa_jwk_dup(key);
	return FA_OK;
}

enum fa_rc fa_jwks_add(struct fa_jwks *set, const struct fa_jwk *key, struct fa_err *err)
{
	/* Readers on other threads hold no lock: a shared set must not move. */
	if (atomic_load(&set->refs) != 1)
		return fa_err_set(err, FA_ECONFLICT, "key set is shared and can no longer change");
	if (fa_jwks_find(set, key->kid))
		return fa_err_set(err, FA_EEXIST, "key set already has a key with kid \"%.64s\"",
				  key->kid);
	return append(set, key, err);
}

enum fa_rc fa_jwks_parse(const char *json, size_t len, struct fa_jwks **out,
			 struct fa_err *err)
{
	return fa_jwks_parse_rsa(json, len, FA_JWS_RS256, out, err);
}

enum fa_rc fa_jwks_parse_rsa(const char *json, size_t len, enum fa_jws_alg rsa_default,
			     struct fa_jwks **out, struct fa_err *err)
{
	struct fa_jwks *s = NULL;
	json_t *doc = NULL;
	const json_t *keys, *entry;
	struct fa_jwk *k = NULL;
	struct fa_err kerr;
	size_t i;
	enum fa_rc rc;

	*out = NULL;
	if (!json || len == 0) {
		rc = fa_err_set(err, FA_EINVAL, "JWKS is empty");
		goto out;
	}
	if (len > FA_MAX_JWKS) {
		rc = fa_err_set(err, FA_ETOOBIG, "JWKS is larger than %d bytes", FA_MAX_JWKS);
		goto out;
	}
	if (!fa_jws_alg_is_rsa(rsa_default)) {
		rc = fa_err_set(err, FA_EINVAL, "the default alg of RSA keys must be an RSA alg");
		goto out;
	}
	if ((rc = fa_json_load(json, len, "JWKS", &doc, err)) != FA_OK)
		goto out;
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		rc = fa_err_set(err, FA_EINVAL, "JWKS has no \"keys\" array");
		goto out;
	}
	if (json_array_size(keys) > FA_JOSE_MAX_KEYS) {
		rc = fa_err_set(err, FA_ETOOBIG, "JWKS has %zu keys, more than %d",
				json_array_size(keys), FA_JOSE_MAX_KEYS);
		goto out;
	}
	if ((rc = fa_jwks_new(&s, err)) != FA_OK)
		goto out;
	json_array_foreach(keys, i, entry) {
		fa_err_clear(&kerr);
		rc = fa_jose_jwk_import(entry, true, rsa_default, &k, &kerr);
		if (rc == FA_EUNSUPPORTED) {
			s->skipped++;
			continue;
		}
		if (rc != FA_OK) {
			rc = fa_err_set(err, rc, "JWKS key %zu: %s", i, kerr.msg);
			goto out;
		}
		rc = append(s, k, err);
		fa_jwk_free(k);
		k = NULL;
		if (rc != FA_OK)
			goto out;
	}
	*out = s;
	s = NULL;
	rc = FA_OK;
out:
	fa_jwks_free(s);
	json_decref(doc);
	return rc;
}

size_t fa_jwks_count(const struct fa_jwks *set)
{
	return set->n;
}

size_t fa_jwks_skipped(const struct fa_jwks *set)
{
	return set->skipped;
}

const struct fa_jwk *fa_jwks_key_get(const struct fa_jwks *set, size_t i)
{
	return i < set->n ? set->keys[i] : NULL;
}

const struct fa_jwk *fa_jwks_find(const struct fa_jwks *set, const char *kid)
{
	for (size_t i = 0; kid && i < set->n; i++)
		if (strcmp(set->keys[i]->kid, kid) == 0)
			return set->keys[i];
	return NULL;
}

enum fa_rc fa_jwks_public_json(const struct fa_jwks *set, json_t **out, struct fa_err *err)
{
	json_t *doc = NULL, *arr = json_array(), *jwk;
	enum fa_rc rc = FA_OK;

	*out = NULL;
	if (!arr || !(doc = json_object()) || json_object_set(doc, "keys", arr) != 0) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set->n; i++) {
		if ((rc = fa_jwk_public_json(set->keys[i], &jwk, err)) != FA_OK)
			goto out;
		if (json_array_append_new(arr, jwk) != 0) {
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			goto out;
		}
	}
	*out = doc;
	doc = NULL;
out:
	json_decref(arr);
	json_decref(doc);
	return rc;
}

enum fa_rc fa_jwks_format(const struct fa_jwks *set, char **json, size_t *len,
			  struct fa_err *err)
{
	json_t *doc = NULL;
	enum fa_rc rc;

	*json = NULL;
	if (len)
		*len = 0;
	if ((rc = fa_jwks_public_json(set, &doc, err)) != FA_OK)
		goto out;
	*json = json_dumps(doc, JSON_COMPACT);
	if (!*json) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	if (len)
		*len = strlen(*json);
out:
	json_decref(doc);
	return rc;
}

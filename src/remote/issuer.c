/* issuer.c -- one upstream issuer as a relying party or resource server
 * sees it: its discovery document in a background holder, the key set of
 * the document's jwks_uri, and token verification that takes the issuer
 * to compare from the document (exact, or Entra ID's tenant template),
 * never from the caller's memory of the config.
 *
 * Invariants:
 *  1. ks, when set, is the key set of ks_uri, which is the jwks_uri of some
 *     document the holder served; a document with another jwks_uri
 *     replaces ks (readers keep their own reference to the old one).
 *  2. The holder's load warms the key set once per document, on the
 *     holder's thread, so the first token does not pay for the fetch.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote_int.h"

struct fa_remote_issuer {
	const struct fa_remote *r;
	enum fa_discovery_kind kind;
	char *issuer;
	char *metadata_url;             /* NULL: derived */
	struct fa_remote_jwks_opts jwks_opts;
	void (*on_update)(void *ctx, const struct fa_discovery *d);
	void *ctx;
	struct fa_remote_holder *holder;

	pthread_mutex_t mu;             /* guards ks */
	struct fa_remote_jwks *ks;
};

/* The key set for d's jwks_uri (invariant 1); a new reference. */
static enum fa_rc keyset_for(struct fa_remote_issuer *iss, const struct fa_discovery *d,
			     struct fa_remote_jwks **out, struct fa_err *err)
{
	struct fa_remote_jwks_opts o = iss->jwks_opts;
	struct fa_remote_jwks *fresh = NULL, *old = NULL;
	enum fa_rc rc = FA_OK;

	*out = NULL;
	pthread_mutex_lock(&iss->mu);
	if (!iss->ks || strcmp(fa_remote_jwks_uri(iss->ks), d->jwks_uri) != 0) {
		if (!o.rsa_alg)
			o.rsa_alg = fa_discovery_rsa_alg(d);
		rc = fa_remote_jwks_new(iss->r, d->jwks_uri, &o, &fresh, err);
		if (rc == FA_OK) {
			old = iss->ks;
			iss->ks = fresh;
		}
	}
	if (rc == FA_OK)
		*out = fa_remote_jwks_dup(iss->ks);
	pthread_mutex_unlock(&iss->mu);
	fa_remote_jwks_free(old);
	return rc;
}

/* The holder's load, on its thread. */
static enum fa_rc load(void *ctx, const atomic_bool *cancel, void **out, struct fa_err *err)
{
	struct fa_remote_issuer *iss = ctx;
	struct fa_discovery *d = NULL;
	struct fa_remote_jwks *ks = NULL;
	struct fa_jwks *set = NULL;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_discovery_fetch(iss->r, iss->kind, iss->issuer, iss->metadata_url, cancel, &d, err);
	if (rc != FA_OK)
		return rc;
	/* A key set failure is logged by the set and retried on use; the
	 * document itself is good. */
	if (keyset_for(iss, d, &ks, NULL) == FA_OK && rm_jwks_get(ks, cancel, &set, NULL) == FA_OK)
		fa_jwks_free(set);
	fa_remote_jwks_free(ks);
	if (iss->on_update)
		iss->on_update(iss->ctx, d);
	*out = d;
	return FA_OK;
}

static void *disc_dup(void *v)
{
	return fa_discovery_dup(v);
}

static void disc_free(void *v)
{
	fa_discovery_free(v);
}

static const struct fa_remote_holder_ops discovery_ops = { load, disc_dup, disc_free };

static void issuer_destroy(struct fa_remote_issuer *iss)
{
	fa_remote_jwks_free(iss->ks);
	pthread_mutex_destroy(&iss->mu);
	free(iss->issuer);
	free(iss->metadata_url);
	free(iss);
}

enum fa_rc fa_remote_issuer_start(const struct fa_remote *r, const struct fa_remote_issuer_opts *opts,
				  struct fa_remote_issuer **out, struct fa_err *err)
{
	struct fa_remote_holder_opts ho = { 0 };
	struct fa_remote_issuer *iss;
	char url[FA_REMOTE_MAX_URL + 1], what[128];
	struct fa_discovery *initial = NULL;
	enum fa_rc rc;

	*out = NULL;
	if (!opts || (opts->kind != FA_DISCOVERY_OIDC && opts->kind != FA_DISCOVERY_OAUTH))
		return fa_err_set(err, FA_EINVAL, "an issuer needs options with a kind");
	if ((rc = fa_remote_url_check(opts->issuer, "issuer", err)) != FA_OK)
		return rc;
	if (opts->metadata_url) {
		/* Checked, so it fits (FA_REMOTE_MAX_URL). */
		if ((rc = fa_remote_url_check(opts->metadata_url, "metadata URL", err)) != FA_OK ||
		    (rc = fa_strlcpy(url, opts->metadata_url, sizeof(url))) != FA_OK)
			return fa_err_set(err, rc, "metadata URL is not usable");
	} else if ((rc = fa_discovery_url(opts->kind, opts->issuer, url, sizeof(url), err)) != FA_OK) {
		return rc;
	}
	if (!(iss = calloc(1, sizeof(*iss))))
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	pthread_mutex_init(&iss->mu, NULL);
	iss->r = r;
	iss->kind = opts->kind;
	iss->jwks_opts = opts->jwks;
	if (!iss->jwks_opts.log)
		iss->jwks_opts.log = opts->log;
	iss->on_update = opts->on_update;
	iss->ctx = opts->ctx;
	if (!(iss->issuer = strdup(opts->issuer)) ||
	    (opts->metadata_url && !(iss->metadata_url = strdup(opts->metadata_url)))) {
		issuer_destroy(iss);
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	/* The URL comes with every error message; the name alone here. */
	snprintf(what, sizeof(what), "%s's %s", opts->what ? opts->what : "the IdP",
		 opts->kind == FA_DISCOVERY_OIDC ? "discovery document" : "metadata");
	ho.what = what;
	ho.first_delay_ms = opts->first_delay_ms;
	ho.max_delay_ms = opts->max_delay_ms;
	ho.max_attempts = opts->max_attempts;
	ho.refresh_ms = opts->refresh_ms ? opts->refresh_ms : FA_REMOTE_DISCOVERY_REFRESH_MS;
	ho.log = opts->log;
	if (opts->initial)
		initial = fa_discovery_dup(opts->initial);
	rc = fa_remote_holder_start(&discovery_ops, iss, &ho, initial, &iss->holder, err);
	if (rc != FA_OK) {
		fa_discovery_free(initial);
		issuer_destroy(iss);
		return rc;
	}
	*out = iss;
	return FA_OK;
}

void fa_remote_issuer_free(struct fa_remote_issuer *iss)
{
	if (!iss)
		return;
	/* The holder's thread uses iss: stop it first. */
	fa_remote_holder_free(iss->holder);
	issuer_destroy(iss);
}

enum fa_rc fa_remote_issuer_discovery(struct fa_remote_issuer *iss, struct fa_discovery **out,
				      struct fa_err *err)
{
	void *v = NULL;
	enum fa_rc rc = fa_remote_holder_get(iss->holder, &v, err);

	*out = v;
	return rc;
}

enum fa_holder_state fa_remote_issuer_wait(struct fa_remote_issuer *iss, int64_t timeout_ms)
{
	return fa_remote_holder_wait(iss->holder, timeout_ms);
}

enum fa_rc fa_remote_issuer_verify(struct fa_remote_issuer *iss, const struct fa_jwt_rules *rules,
				   const char *token, size_t len, json_t **claims, json_t **header,
				   struct fa_err *err)
{
	struct fa_discovery *d = NULL;
	struct fa_remote_jwks *ks = NULL;
	struct fa_jwt_rules r = *rules;
	char want[FA_REMOTE_MAX_URL + 64];
	const char *iss_claim;
	enum fa_rc rc;

	*claims = NULL;
	if (header)
		*header = NULL;
	if ((rc = fa_remote_issuer_discovery(iss, &d, err)) != FA_OK ||
	    (rc = keyset_for(iss, d, &ks, err)) != FA_OK)
		goto out;
	/* iss is checked below, against the document, after the signature. */
	r.issuer = NULL;
	if ((rc = fa_remote_jwks_verify(ks, &r, token, len, claims, header, err)) != FA_OK ||
	    (rc = fa_discovery_token_issuer(d, *claims, want, sizeof(want), err)) != FA_OK)
		goto out;
	iss_claim = json_string_value(json_object_get(*claims, "iss"));
	if (!iss_claim || strcmp(iss_claim, want) != 0) {
		rc = fa_err_set(err, FA_EDENIED, "token issuer is not %.100s", want);
		goto out;
	}
out:
	if (rc != FA_OK) {
		json_decref(*claims);
		*claims = NULL;
		if (header) {
			json_decref(*header);
			*header = NULL;
		}
	}
	fa_remote_jwks_free(ks);
	fa_discovery_free(d);
	return rc;
}

void fa_remote_issuer_stats(struct fa_remote_issuer *iss, struct fa_remote_issuer_stats *out)
{
	struct fa_remote_jwks *ks;

	memset(out, 0, sizeof(*out));
	fa_remote_holder_stats(iss->holder, &out->discovery);
	pthread_mutex_lock(&iss->mu);
	ks = iss->ks ? fa_remote_jwks_dup(iss->ks) : NULL;
	pthread_mutex_unlock(&iss->mu);
	if (ks) {
		fa_remote_jwks_stats(ks, &out->jwks);
		fa_remote_jwks_free(ks);
	}
}

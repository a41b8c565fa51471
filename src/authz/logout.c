/* logout.c -- OpenID Connect RP-Initiated Logout 1.0 as logic: what an
 * end-session request names (who, for which client) and where the browser
 * may go afterwards. ep_end_session.c ends the session and answers.
 *
 * The rules (§2, §3): an id_token_hint must be an ID token of ours (expired
 * is fine: it still names who logged in); client_id, when given beside it,
 * must be its audience; post_logout_redirect_uri needs a client (from the
 * hint or client_id) and must equal one of that client's
 * post_logout_redirect_uris exactly -- no loopback port freedom, no prefix:
 * anything else would make the endpoint an open redirect. Every failure is
 * invalid_request and is shown as a page, never redirected.
 */
#include <string.h>

#include "authz/authz_int.h"

static enum fa_rc bad(struct fa_err *err, const char *msg)
{
	return fa_err_oauth(err, FA_EINVAL, "invalid_request", "%s", msg);
}

static bool registered(const struct fa_authz_client *c, const char *uri)
{
	for (size_t i = 0; i < c->n_post_logout_uris; i++) {
		if (strcmp(c->post_logout_uris[i], uri) == 0)
			return true;
	}
	return false;
}

enum fa_rc fa_authz_logout_check(struct fa_authz *az, const struct fa_authz_logout_params *p,
				 struct fa_authz_logout *out, struct fa_err *err)
{
	json_t *claims = NULL;
	enum fa_rc rc = FA_OK;

	memset(out, 0, sizeof(*out));
	if (p->id_token_hint) {
		rc = fa_authz_idt_hint(az, p->id_token_hint, &claims, err);
		if (rc != FA_OK)
			return rc;
		out->client = fa_authz_client_get(az, fa_authz_jstr(claims, "aud"));
		if (!out->client) {
			rc = bad(err, "the client of id_token_hint no longer exists");
			goto out;
		}
		if (fa_strlcpy(out->sub, fa_authz_jstr(claims, "sub"), sizeof(out->sub)) != FA_OK) {
			rc = bad(err, "id_token_hint names an unusable subject");
			goto out;
		}
	}
	if (p->client_id) {
		const struct fa_authz_client *c = fa_authz_client_get(az, p->client_id);

		if (!c) {
			rc = bad(err, "unknown client_id");
			goto out;
		}
		if (out->client && out->client != c) {
			rc = bad(err, "client_id is not the audience of id_token_hint");
			goto out;
		}
		out->client = c;
	}
	if (p->state && fa_strlcpy(out->state, p->state, sizeof(out->state)) != FA_OK) {
		rc = bad(err, "state is too long");
		goto out;
	}
	if (p->post_logout_redirect_uri) {
		if (!out->client) {
			rc = bad(err, "post_logout_redirect_uri needs id_token_hint or client_id");
			goto out;
		}
		if (!registered(out->client, p->post_logout_redirect_uri) ||
		    fa_strlcpy(out->redirect, p->post_logout_redirect_uri,
			       sizeof(out->redirect)) != FA_OK) {
			rc = bad(err, "post_logout_redirect_uri is not registered for this client");
			goto out;
		}
	}
out:
	if (rc != FA_OK)
		memset(out, 0, sizeof(*out));
	json_decref(claims);
	return rc;
}

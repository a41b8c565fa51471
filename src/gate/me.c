/* me.c -- GET /me: the caller's user info as flyteadmin's IdentityService
 * returns it (flyteidl UserInfoResponse through grpc-gateway with proto
 * field names and unpopulated fields emitted): `subject`, `name`,
 * `preferred_username`, `given_name`, `family_name`, `email`, `picture`
 * (strings, "" when unknown) and `additional_claims` (every claim of the
 * token, or the session user; null when none), plus the `X-User-Subject`
 * header flyteadmin's forward-response hook sets. It reads only the
 * principal the gate put on the request: no store, no token parsing. For
 * a token the answer was built once, when the token was verified, and is
 * kept with it in the verified-token cache (cache.c); a browser session's
 * answer is built here on each request.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/gate_int.h"

static const char *const fields[] = {
	"name", "preferred_username", "given_name", "family_name", "email", "picture",
};

char *fa_gate_me_json(const struct fa_gate_principal *p, size_t *len)
{
	json_t *ui = NULL, *claims = NULL, *out;
	char *body = NULL;

	fa_gate_principal_json(p, &claims, &ui);
	out = json_pack("{s:s}", "subject", p->subject);
	if (!out)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		const char *v = json_string_value(json_object_get(ui, fields[i]));

		/* flyteadmin also takes a top-level `email` claim. */
		if (!v && strcmp(fields[i], "email") == 0)
			v = json_string_value(json_object_get(claims, "email"));
		if (json_object_set_new(out, fields[i], json_string(v ? v : "")) != 0)
			goto out;
	}
	if (json_object_set(out, "additional_claims", claims ? claims : json_null()) != 0)
		goto out;
	body = json_dumps(out, JSON_COMPACT);
	if (body)
		*len = strlen(body);
out:
	json_decref(ui);
	json_decref(claims);
	json_decref(out);
	return body;
}

void fa_gate_me(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const struct fa_gate *g = app;
	const struct fa_gate_principal *p = fa_gate_principal_get(req);
	/* fa_gate_authenticate set a struct fa_gate_caller, principal first. */
	const struct fa_gate_caller *caller = (const struct fa_gate_caller *)p;
	char *built = NULL;
	const char *body;
	size_t len = 0;
	struct fa_err e;

	fa_err_clear(&e);
	if (!p) {
		/* Only reachable if the route lost its authentication. */
		fa_resp_bearer_error(resp, 401, NULL, "authentication required");
		return;
	}
	body = caller->me_body;
	len = caller->me_len;
	if (!body) {
		body = built = fa_gate_me_json(p, &len);
		if (!built) {
			fa_resp_oauth_error(resp, 500, "server_error", "out of memory");
			return;
		}
	}
	if (fa_resp_header(resp, "X-User-Subject", p->subject, &e) != FA_OK)
		/* A subject a header cannot carry (control characters) still
		 * gets its JSON answer. */
		fa_log_warnx(g->log, "gate: /me: subject cannot be sent as a header");
	if (fa_resp_body(resp, 200, "application/json", body, len, &e) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", "cannot answer");
	free(built);
}

/* grant.c -- token-endpoint exchanges that need no user: parsing a token
 * response (RFC 6749 §5.1) and its errors (§5.2), the client credentials
 * grant with client_secret_basic, the refresh grant, reading a JWT's exp
 * without trusting it, and ExternalCommand (admin.command prints a token).
 * Also which client id, scopes and audience a request carries. The flows
 * that need a user are in pkce.c and device.c; the cache in cache.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client_int.h"

/* A token without expires_in or a readable exp is assumed to live this
 * long: short enough that a wrong guess costs one refresh. */
#define DEFAULT_LIFETIME_S 3600

void cl_token_init(struct cl_token *t)
{
	memset(t, 0, sizeof(*t));
}

void cl_token_cleanup(struct cl_token *t)
{
	free(t->endpoint);
	free(t->client_id);
	free(t->token_url);
	free(t->revocation_url);
	free(t->header);
	fa_free_secret(t->access_token);
	free(t->token_type);
	fa_free_secret(t->refresh_token);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

enum fa_rc cl_strset(char **dst, const char *src)
{
	char *copy = strdup(src ? src : "");

	if (!copy)
		return FA_ENOMEM;
	fa_free_secret(*dst);
	*dst = copy;
	return FA_OK;
}

/* Printable ASCII without spaces, 1..max bytes: what a token may be. */
static bool token_chars_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

enum fa_rc cl_jwt_exp(const char *jwt, int64_t *exp)
{
	const char *d1, *d2;
	unsigned char *payload = NULL;
	size_t plen = 0, n = strlen(jwt);
	json_t *j = NULL;
	const json_t *e;
	enum fa_rc rc = FA_EINVAL;

	*exp = 0;
	if (n > FA_MAX_TOKEN)
		return FA_ETOOBIG;
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return FA_EINVAL;
	if (fa_b64_decode_dup(d1 + 1, (size_t)(d2 - d1 - 1), FA_B64_URL | FA_B64_NOPAD, &payload,
			      &plen) != FA_OK)
		return FA_EINVAL;
	if (fa_json_load((const char *)payload, plen, "token claims", &j, NULL) != FA_OK)
		j = NULL;
	e = j ? json_object_get(j, "exp") : NULL;
	if (e && json_is_integer(e) && json_integer_value(e) > 0) {
		*exp = (int64_t)json_integer_value(e);
		rc = FA_OK;
	} else if (e && json_is_real(e) && json_real_value(e) >= 1 && json_real_value(e) < 1e15) {
		*exp = (int64_t)json_real_value(e);
		rc = FA_OK;
	}
	json_decref(j);
	free(payload);
	return rc;
}

static enum fa_rc opt_string(const json_t *j, const char *name, size_t max, bool token,
			     char **out, struct fa_err *err)
{
	const json_t *v = json_object_get(j, name);
	const char *s;

	if (!v || json_is_null(v))
		return cl_strset(out, "") == FA_OK ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
	s = json_string_value(v);
	if (!s || strlen(s) != json_string_length(v) || json_string_length(v) > max ||
	    (token && !token_chars_ok(s, json_string_length(v), max)))
		return fa_err_set(err, FA_ENET, "token response: bad \"%s\"", name);
	return cl_strset(out, s) == FA_OK ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
}

/* expires_in as a number, or (Entra ID v1) a string of digits; -1 absent. */
static enum fa_rc expires_in(const json_t *j, int64_t *out, struct fa_err *err)
{
	const json_t *v = json_object_get(j, "expires_in");
	uint64_t u;

	*out = -1;
	if (!v || json_is_null(v))
		return FA_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= FA_MAX_LIFETIME_S) {
		*out = (int64_t)json_integer_value(v);
		return FA_OK;
	}
	if (json_is_string(v) && fa_parse_u64(json_string_value(v), json_string_length(v),
					      (uint64_t)FA_MAX_LIFETIME_S, &u) == FA_OK) {
		*out = (int64_t)u;
		return FA_OK;
	}
	return fa_err_set(err, FA_ENET, "token response: bad \"expires_in\"");
}

enum fa_rc cl_token_parse(const json_t *j, int64_t now, struct cl_token *t, struct fa_err *err)
{
	const json_t *at = json_object_get(j, "access_token");
	int64_t ein = -1, exp = 0;
	enum fa_rc rc;

	if (!at || !json_is_string(at))
		return fa_err_set(err, FA_ENET, "token response has no access_token");
	rc = opt_string(j, "access_token", FA_MAX_TOKEN, true, &t->access_token, err);
	if (rc == FA_OK)
		rc = opt_string(j, "token_type", 64, true, &t->token_type, err);
	if (rc == FA_OK && *t->token_type && !fa_str_ieq(t->token_type, "bearer"))
		rc = fa_err_set(err, FA_EUNSUPPORTED, "token type \"%.32s\" is not supported "
				"(only Bearer)", t->token_type);
	if (rc == FA_OK)
		rc = opt_string(j, "refresh_token", FA_MAX_TOKEN, true, &t->refresh_token, err);
	if (rc == FA_OK)
		rc = opt_string(j, "scope", FA_MAX_SCOPE, false, &t->scope, err);
	if (rc == FA_OK)
		rc = expires_in(j, &ein, err);
	if (rc != FA_OK)
		return rc;
	t->obtained_at = now;
	t->expires_at = ein >= 0 ? now + ein : 0;
	if (cl_jwt_exp(t->access_token, &exp) == FA_OK && (t->expires_at == 0 || exp < t->expires_at))
		t->expires_at = exp;
	if (t->expires_at == 0)
		t->expires_at = now + DEFAULT_LIFETIME_S;
	return FA_OK;
}

/* RFC 6749 §5.2 and RFC 8628 §3.5 codes, as static strings for
 * err->oauth_error. */
static const char *const oauth_errors[] = {
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
	"unsupported_grant_type", "invalid_scope", "access_denied", "expired_token",
	"authorization_pending", "slow_down", "server_error", "temporarily_unavailable",
};

const char *cl_oauth_error_name(const char *e)
{
	for (size_t i = 0; e && i < ARRAY_LEN(oauth_errors); i++)
		if (!strcmp(e, oauth_errors[i]))
			return oauth_errors[i];
	return NULL;
}

/* Turns an error answer into err: FA_EDENIED with the OAuth code for a
 * 4xx with an `error`, FA_ENET otherwise. */
static enum fa_rc answer_error(const struct fa_remote_resp *resp, const char *url, struct fa_err *err)
{
	char code[48], desc[100], where[120];
	json_t *j = NULL;
	enum fa_rc rc;
	struct fa_err ignored;

	cl_sanitize(url, where, sizeof(where));
	if (resp->status >= 400 && resp->status < 500 &&
	    cl_resp_json(resp, "token endpoint", &j, &ignored) == FA_OK &&
	    json_is_string(json_object_get(j, "error"))) {
		const char *e = json_string_value(json_object_get(j, "error"));
		cl_sanitize(e, code, sizeof(code));
		cl_sanitize(json_string_value(json_object_get(j, "error_description")), desc,
			    sizeof(desc));
		rc = fa_err_set(err, FA_EDENIED, "%s refused: %s%s%s", where, code, *desc ? ": " : "",
				desc);
		if (err)
			err->oauth_error = cl_oauth_error_name(e);
		json_decref(j);
		return rc;
	}
	json_decref(j);
	return fa_err_set(err, FA_ENET, "%s answered HTTP %ld", where, resp->status);
}

enum fa_rc cl_token_request(const struct fa_client *c, const char *url, const char *form,
			    const char *basic_id, const char *basic_secret, struct cl_token *t,
			    struct fa_err *err)
{
	struct fa_remote_req rq = { .url = url, .form = form, .basic_id = basic_id,
				    .basic_secret = basic_secret,
				    .max_body = FA_CLIENT_MAX_RESPONSE };
	struct fa_remote_resp resp;
	json_t *j = NULL;
	enum fa_rc rc;

	if (!cl_url_acceptable(c, url)) {
		char q[120];
		cl_sanitize(url, q, sizeof(q));
		return fa_err_set(err, FA_ECONFIG, "refusing to send credentials to \"%s\": not an "
				  "https URL", q);
	}
	rc = cl_http(c, &rq, &resp, err);
	if (rc != FA_OK)
		return rc;
	if (resp.status != 200) {
		rc = answer_error(&resp, url, err);
		goto out;
	}
	rc = cl_resp_json(&resp, "token endpoint", &j, err);
	if (rc == FA_OK)
		rc = cl_token_parse(j, fa_now(), t, err);
out:
	json_decref(j);
	fa_remote_resp_cleanup(&resp);
	return rc;
}

const char *cl_effective_client_id(const struct fa_client *c, const char *fallback)
{
	if (*c->s.client_id)
		return c->s.client_id;
	if (c->pub.loaded && c->pub.client_id && *c->pub.client_id)
		return c->pub.client_id;
	return fallback;
}

const char *cl_audience(const struct fa_client *c)
{
	if (c->cfg->use_audience_from_admin && c->pub.loaded && c->pub.audience && *c->pub.audience)
		return c->pub.audience;
	return c->cfg->audience;
}

enum fa_rc cl_form_scope_audience(const struct fa_client *c, struct fa_buf *form)
{
	char *const *items = c->s.scopes;
	size_t n = c->s.n_scopes;
	struct fa_buf scope;
	enum fa_rc rc = FA_OK;

	if (!c->s.scopes_given && c->pub.loaded) {
		items = c->pub.scopes;
		n = c->pub.n_scopes;
	}
	fa_buf_init(&scope, FA_MAX_SCOPE);
	for (size_t i = 0; i < n && rc == FA_OK; i++) {
		if (i)
			rc = fa_buf_appendc(&scope, ' ');
		if (rc == FA_OK)
			rc = fa_buf_appends(&scope, items[i]);
	}
	if (rc == FA_OK && scope.len)
		rc = fa_remote_form_add(form, "scope", scope.data);
	if (rc == FA_OK && *cl_audience(c))
		rc = fa_remote_form_add(form, "audience", cl_audience(c));
	fa_buf_cleanup(&scope);
	return rc;
}

enum fa_rc cl_token_bind(const struct fa_client *c, const char *client_id,
			 const char *token_url, struct cl_token *t)
{
	enum fa_rc rc = cl_strset(&t->endpoint, c->s.base_url);

	t->auth_type = c->s.auth_type;
	if (rc == FA_OK)
		rc = cl_strset(&t->client_id, client_id);
	if (rc == FA_OK)
		rc = cl_strset(&t->token_url, token_url);
	if (rc == FA_OK)
		rc = cl_strset(&t->revocation_url, c->md.loaded ? c->md.revocation_endpoint : "");
	if (rc == FA_OK)
		rc = cl_strset(&t->header, c->pub.loaded ? c->pub.authorization_metadata_key : "");
	return rc;
}

/* The token URL: admin.tokenUrl, else the metadata's token_endpoint. */
static enum fa_rc token_url(struct fa_client *c, const char **out, struct fa_err *err)
{
	enum fa_rc rc;

	if (*c->cfg->token_url) {
		*out = c->cfg->token_url;
		return FA_OK;
	}
	rc = cl_discover_metadata(c, err);
	*out = rc == FA_OK ? c->md.token_endpoint : NULL;
	return rc;
}

enum fa_rc cl_grant_client_credentials(struct fa_client *c, struct cl_token *t,
				       struct fa_err *err)
{
	const char *url = NULL, *id = cl_effective_client_id(c, "flytepropeller");
	char *secret = NULL;
	struct fa_buf form;
	enum fa_rc rc;

	fa_buf_init(&form, FA_MAX_BODY);
	/* The secret first: a missing one is a local mistake, reported
	 * without touching the network. */
	rc = cl_client_secret(c->cfg, &secret, err);
	if (rc == FA_OK)
		rc = token_url(c, &url, err);
	if (rc != FA_OK)
		goto out;
	/* flyteidl asks admin for scopes (and audience) when none are set. */
	if ((!c->s.scopes_given || c->cfg->use_audience_from_admin) &&
	    (rc = cl_discover_public(c, err)) != FA_OK)
		goto out;
	rc = fa_remote_form_add(&form, "grant_type", "client_credentials");
	if (rc == FA_OK)
		rc = cl_form_scope_audience(c, &form);
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "the token request is too large");
		goto out;
	}
	rc = cl_token_request(c, url, form.data, id, secret, t, err);
	if (rc == FA_OK && cl_token_bind(c, id, url, t) != FA_OK)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
out:
	fa_free_secret(secret);
	fa_buf_cleanup(&form);
	return rc;
}

enum fa_rc cl_grant_refresh(struct fa_client *c, const struct cl_token *old, struct cl_token *t,
			    struct fa_err *err)
{
	char *secret = NULL;
	struct fa_buf form;
	enum fa_rc rc;
	bool confidential = old->auth_type == FA_CLIENT_AUTH_CLIENT_SECRET;

	fa_buf_init(&form, FA_MAX_BODY);
	/* Public clients (Pkce, DeviceFlow) identify themselves by id. */
	rc = fa_remote_form_pairs(&form, (const char *const[]){
		"grant_type", "refresh_token", "refresh_token", old->refresh_token,
		"client_id", confidential ? NULL : old->client_id, NULL });
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "the refresh request is too large");
		goto out;
	}
	if (confidential && (rc = cl_client_secret(c->cfg, &secret, err)) != FA_OK)
		goto out;
	rc = cl_token_request(c, old->token_url, form.data, confidential ? old->client_id : NULL,
			      secret, t, err);
	if (rc != FA_OK)
		goto out;
	/* Bound as before; a server that does not rotate keeps the old one
	 * valid (RFC 6749 §6). */
	t->auth_type = old->auth_type;
	if (cl_strset(&t->endpoint, old->endpoint) != FA_OK ||
	    cl_strset(&t->client_id, old->client_id) != FA_OK ||
	    cl_strset(&t->token_url, old->token_url) != FA_OK ||
	    cl_strset(&t->revocation_url, old->revocation_url) != FA_OK ||
	    cl_strset(&t->header, old->header) != FA_OK ||
	    (!*t->refresh_token && cl_strset(&t->refresh_token, old->refresh_token) != FA_OK))
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
out:
	fa_free_secret(secret);
	fa_buf_cleanup(&form);
	return rc;
}

/* ---- ExternalCommand ------------------------------------------------------------------ */

static void child_exec(char *const *argv, int out_fd)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	execvp(argv[0], argv);
	_exit(127);
}

/* Reads the child's stdout until EOF, the cap or the deadline. */
static enum fa_rc read_child(int fd, struct fa_buf *b, int64_t deadline, struct fa_err *err)
{
	char chunk[1024];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - fa_mono_ms();
		int r;

		if (left <= 0)
			return fa_err_set(err, FA_EEXPIRED, "admin.command printed no token within "
					  "%d s", FA_CLIENT_COMMAND_TIMEOUT_S);
		r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fa_err_set(err, FA_EIO, "admin.command: %s", strerror(errno));
		if (r == 0)
			continue;
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fa_err_set(err, FA_EIO, "admin.command: %s", strerror(errno));
		if (n == 0)
			return FA_OK;
		if (fa_buf_append(b, chunk, (size_t)n) != FA_OK)
			return fa_err_set(err, FA_ETOOBIG, "admin.command printed more than %d bytes",
					  FA_MAX_TOKEN);
	}
}

enum fa_rc cl_external_command(const struct fa_client *c, char **token, struct fa_err *err)
{
	const struct fa_config_list *cmd = &c->cfg->command;
	char **argv = NULL, *s;
	struct fa_buf out;
	int pipefd[2] = { -1, -1 }, status = 0;
	pid_t pid = -1;
	enum fa_rc rc = FA_OK;
	size_t a = 0, n;

	*token = NULL;
	fa_buf_init(&out, FA_MAX_TOKEN + 256);
	if (cmd->count == 0)
		return fa_err_set(err, FA_ECONFIG, "authType ExternalCommand needs admin.command");
	argv = calloc(cmd->count + 1, sizeof(char *));
	if (!argv)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < cmd->count; i++)
		argv[i] = cmd->items[i];
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		rc = fa_err_set(err, FA_EIO, "admin.command: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = fa_err_set(err, FA_EIO, "admin.command: cannot start: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, pipefd[1]);
	close(pipefd[1]);
	pipefd[1] = -1;
	rc = read_child(pipefd[0], &out, fa_mono_ms() + FA_CLIENT_COMMAND_TIMEOUT_S * 1000LL, err);
	if (rc != FA_OK)
		kill(pid, SIGKILL);     /* our own child, by its pid */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (rc != FA_OK)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = fa_err_set(err, FA_EDENIED, "admin.command (%.80s) failed (%s %d)", argv[0],
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	s = out.data ? out.data : "";
	n = out.len;
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	while (a < n && strchr(" \t\r\n", s[a]))
		a++;
	if (!token_chars_ok(s + a, n - a, FA_MAX_TOKEN)) {
		rc = fa_err_set(err, FA_EINVAL, "admin.command (%.80s) did not print a token (one "
				"word of printable characters)", argv[0]);
		goto out;
	}
	*token = fa_strndup(s + a, n - a);
	if (!*token)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(argv);
	fa_buf_cleanup(&out);
	return rc;
}

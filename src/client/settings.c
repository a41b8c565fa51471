/* settings.c -- the client's settings: the config file's `admin:` values
 * with the environment layered on top exactly as the seed documents it
 * (FLYTE_CREDENTIALS_*, FLYTE_PLATFORM_*, and for each of them the
 * <NAME>_FROM_ENV_VAR and <NAME>_FROM_FILE redirections), and the client
 * secret lookup. Precedence, highest first: the variable, its
 * _FROM_ENV_VAR, its _FROM_FILE, the config file, the default. Every value
 * is bounded and checked; a bad one is an error that names the variable
 * (never the value: it may be a secret). It does no network I/O. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client_int.h"

/* Longest value of a boolean or auth-mode variable. */
#define SHORT_VALUE_MAX 64

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Trims s in place; returns its new length. */
static size_t trim(char *s, size_t n)
{
	size_t a = 0;

	while (n > 0 && is_space(s[n - 1]))
		n--;
	while (a < n && is_space(s[a]))
		a++;
	if (a)
		memmove(s, s + a, n - a);
	s[n - a] = '\0';
	return n - a;
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

enum fa_rc cl_read_trimmed(const char *path, size_t max, char **out, struct fa_err *err)
{
	char *data = NULL;
	size_t len = 0, n;
	int e = 0;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_file_read(path, FA_MAX_SECRET, &data, &len, &e);
	if (rc == FA_ETOOBIG)
		return fa_err_set(err, rc, "%s is larger than %d bytes", path, FA_MAX_SECRET);
	if (rc == FA_ENOTFOUND || rc == FA_EIO)
		return fa_err_set(err, rc, "cannot read %s: %s", path, strerror(e));
	if (rc != FA_OK)
		return fa_err_set(err, rc, "out of memory");
	n = trim(data, len);
	fa_memzero(data + n + 1, len - n);   /* what trimming moved over */
	if (n > max) {
		fa_memzero(data, len);
		free(data);
		return fa_err_set(err, FA_ETOOBIG, "%s holds more than %zu bytes", path, max);
	}
	*out = data;
	return FA_OK;
}

static void set_src(char *src, size_t cap, const char *fmt, ...) FA_PRINTF(3, 4);

static void set_src(char *src, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!src || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(src, cap, fmt, ap);   /* a label cut short still says where */
	va_end(ap);
}

/* Checks one found value: not over max, no control bytes. */
static enum fa_rc check_value(const char *label, char *v, size_t max, struct fa_err *err)
{
	size_t n = trim(v, strlen(v));

	if (n > max)
		return fa_err_set(err, FA_ETOOBIG, "%s is longer than %zu bytes", label, max);
	if (has_control(v, n))
		return fa_err_set(err, FA_EINVAL, "%s contains a control character", label);
	return FA_OK;
}

/* A copy of an environment value, trimmed and checked; `label` names it
 * in messages. Values far over max are refused before they are copied. */
static enum fa_rc copy_checked(const char *label, const char *v, size_t max, char **out,
			       struct fa_err *err)
{
	enum fa_rc rc;

	*out = NULL;
	if (strlen(v) > max + 1024)
		return fa_err_set(err, FA_ETOOBIG, "%s is longer than %zu bytes", label, max);
	*out = strdup(v);
	if (!*out)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	rc = check_value(label, *out, max, err);
	if (rc != FA_OK) {
		fa_free_secret(*out);
		*out = NULL;
	}
	return rc;
}

enum fa_rc cl_env_get(const char *name, size_t max, char **out, char *src, size_t srccap,
		      struct fa_err *err)
{
	char redir[160], label[CL_SRC_MAX];
	const char *v, *target;
	enum fa_rc rc;

	*out = NULL;
	set_src(src, srccap, "%s", "");
	/* 1. the variable itself */
	v = getenv(name);
	if (v && *v) {
		rc = copy_checked(name, v, max, out, err);
		if (rc == FA_OK)
			set_src(src, srccap, "%s", name);
		return rc;
	}
	/* 2. <NAME>_FROM_ENV_VAR=OTHER */
	snprintf(redir, sizeof(redir), "%s_FROM_ENV_VAR", name);
	target = getenv(redir);
	if (target && *target) {
		v = getenv(target);
		if (!v || !*v)
			return fa_err_set(err, FA_ECONFIG, "%s names %.64s, which is not set", redir,
					  target);
		snprintf(label, sizeof(label), "%.64s (named by %s)", target, redir);
		rc = copy_checked(label, v, max, out, err);
		if (rc == FA_OK)
			set_src(src, srccap, "%s=%s", redir, target);
		return rc;
	}
	/* 3. <NAME>_FROM_FILE=/path */
	snprintf(redir, sizeof(redir), "%s_FROM_FILE", name);
	target = getenv(redir);
	if (target && *target) {
		struct fa_err ferr;
		rc = cl_read_trimmed(target, max, out, &ferr);
		if (rc != FA_OK)
			return fa_err_set(err, rc == FA_ENOMEM ? FA_ENOMEM : FA_ECONFIG, "%s: %s",
					  redir, ferr.msg);
		snprintf(label, sizeof(label), "%.100s (%.200s)", redir, target);
		rc = **out ? check_value(label, *out, max, err) :
		     fa_err_set(err, FA_ECONFIG, "%s: %.200s is empty", redir, target);
		if (rc != FA_OK) {
			fa_free_secret(*out);
			*out = NULL;
			return rc;
		}
		set_src(src, srccap, "%s (%s)", redir, target);
	}
	return FA_OK;
}

/* "line N" of a config value, or "the default": short enough for a
 * message that also names a path (the file is named by the caller). */
static void cfg_line(const struct fa_config_pos *p, char *out, size_t cap)
{
	if (p->file && p->line > 0)
		snprintf(out, cap, "config line %d", p->line);
	else
		snprintf(out, cap, "the default");
}

/* "FILE:LINE:COL" of a config value, or "the default". */
static void cfg_src(const struct fa_config_pos *p, char *out, size_t cap)
{
	if (p->file && p->line > 0)
		fa_config_pos_format(p, out, cap);
	else
		snprintf(out, cap, "the default");
}

static enum fa_rc parse_bool(const char *name, const char *v, bool *out, struct fa_err *err)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "t", "y" };
	static const char *const no[] = { "false", "0", "no", "off", "f", "n" };

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (fa_str_ieq(v, yes[i])) {
			*out = true;
			return FA_OK;
		}
		if (fa_str_ieq(v, no[i])) {
			*out = false;
			return FA_OK;
		}
	}
	return fa_err_set(err, FA_ECONFIG, "%s: expected true or false", name);
}

/* An error from cl_env_get is a configuration error (except memory). */
static enum fa_rc env_fail(enum fa_rc rc, struct fa_err *err)
{
	if (rc == FA_ENOMEM || !err)
		return rc;
	err->rc = FA_ECONFIG;
	return FA_ECONFIG;
}

static enum fa_rc env_bool(const char *name, bool *out, bool *given, struct fa_err *err)
{
	char *v = NULL;
	char src[CL_SRC_MAX];
	enum fa_rc rc = cl_env_get(name, SHORT_VALUE_MAX, &v, src, sizeof(src), err);

	*given = false;
	if (rc != FA_OK)
		return env_fail(rc, err);
	if (!v)
		return FA_OK;
	rc = parse_bool(src, v, out, err);
	*given = rc == FA_OK;
	free(v);
	return rc;
}

static void free_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* FLYTE_CREDENTIALS_OAUTH_SCOPES: flytekit splits on commas; spaces are
 * accepted too (the OAuth form). */
static enum fa_rc split_scopes(const char *name, const char *v, struct cl_settings *s,
			       struct fa_err *err)
{
	size_t n = 0, cap = 0;
	char **items = NULL;
	const char *p = v;

	while (*p) {
		size_t len;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ", \t");
		if (len == 0)
			break;
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)p[i];
			if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\') {
				free_list(items, n);
				return fa_err_set(err, FA_ECONFIG, "%s: a scope may not contain quotes "
						  "or backslashes", name);
			}
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			char **ni;
			if (ncap > FA_CONFIG_MAX_LIST) {
				free_list(items, n);
				return fa_err_set(err, FA_ECONFIG, "%s: more than %d scopes", name,
						  FA_CONFIG_MAX_LIST);
			}
			ni = realloc(items, ncap * sizeof(*ni));
			if (!ni) {
				free_list(items, n);
				return fa_err_set(err, FA_ENOMEM, "out of memory");
			}
			items = ni;
			cap = ncap;
		}
		items[n] = fa_strndup(p, len);
		if (!items[n]) {
			free_list(items, n);
			return fa_err_set(err, FA_ENOMEM, "out of memory");
		}
		n++;
		p += len;
	}
	free_list(s->scopes, s->n_scopes);
	s->scopes = items;
	s->n_scopes = n;
	s->scopes_given = n > 0;
	return FA_OK;
}

static enum fa_rc copy_scopes(const struct fa_config_list *l, struct cl_settings *s)
{
	if (l->count == 0)
		return FA_OK;
	s->scopes = calloc(l->count, sizeof(char *));
	if (!s->scopes)
		return FA_ENOMEM;
	for (size_t i = 0; i < l->count; i++) {
		s->scopes[i] = strdup(l->items[i]);
		if (!s->scopes[i])
			return FA_ENOMEM;
		s->n_scopes = i + 1;
	}
	s->scopes_given = true;
	return FA_OK;
}

/* Same rules as admin.authorizationHeader (RFC 7230 token). */
static bool header_ok(const char *h)
{
	size_t n = strlen(h);

	return n <= FA_CLIENT_MAX_HEADER_NAME && fa_token_ok(h, n);
}

static bool no_space(const char *v)
{
	for (; *v; v++)
		if (*v == ' ' || *v == '\t')
			return false;
	return true;
}

static enum fa_rc resolve_endpoint(const struct fa_client_config *cfg, struct cl_settings *s,
				   struct fa_err *err)
{
	char *url = NULL, src[CL_SRC_MAX], where[CL_SRC_MAX - 40];
	bool insecure = cfg->insecure, given = false;
	const char *ep = cfg->endpoint;
	struct fa_err e;
	enum fa_rc rc;

	rc = env_bool("FLYTE_PLATFORM_INSECURE", &insecure, &given, err);
	if (rc != FA_OK)
		return env_fail(rc, err);
	s->insecure = insecure;
	rc = cl_env_get("FLYTE_PLATFORM_URL", FA_CLIENT_MAX_ENDPOINT, &url, src, sizeof(src), err);
	if (rc != FA_OK)
		return env_fail(rc, err);
	if (url) {
		ep = url;
		snprintf(s->endpoint_src, sizeof(s->endpoint_src), "%s", src);
	} else {
		cfg_src(&cfg->endpoint_pos, where, sizeof(where));
		snprintf(s->endpoint_src, sizeof(s->endpoint_src), "admin.endpoint (%s)", where);
	}
	if (*ep) {
		rc = fa_client_endpoint_parse(ep, insecure, s->base_url, sizeof(s->base_url), &e);
		if (rc != FA_OK)
			rc = fa_err_set(err, FA_ECONFIG, "%.80s: %s", s->endpoint_src, e.msg);
		/* Only an explicit http:// gives http without insecure: tokens
		 * would cross the network in clear, so the setting must say so. */
		else if (!insecure && strncmp(s->base_url, "http://", 7) == 0)
			rc = fa_err_set(err, FA_ECONFIG, "%.70s: http:// needs admin.insecure: true "
					"(or FLYTE_PLATFORM_INSECURE=true); else use https://",
					s->endpoint_src);
	}
	free(url);
	return rc;
}

static enum fa_rc resolve_auth_type(const struct fa_client_config *cfg, struct cl_settings *s,
				    struct fa_err *err)
{
	char *v = NULL, src[CL_SRC_MAX], where[CL_SRC_MAX - 40];
	struct fa_err e;
	enum fa_rc rc;

	s->auth_type = cfg->auth_type;
	cfg_src(&cfg->auth_type_pos, where, sizeof(where));
	snprintf(s->auth_type_src, sizeof(s->auth_type_src), "admin.authType (%s)", where);
	rc = cl_env_get("FLYTE_CREDENTIALS_AUTH_MODE", SHORT_VALUE_MAX, &v, src, sizeof(src), err);
	if (rc != FA_OK)
		return env_fail(rc, err);
	if (!v)
		return FA_OK;
	rc = fa_client_auth_type_parse(v, &s->auth_type, &e);
	if (rc != FA_OK)
		rc = fa_err_set(err, FA_ECONFIG, "%.64s: %s", src, e.msg);
	else
		snprintf(s->auth_type_src, sizeof(s->auth_type_src), "%s", src);
	free(v);
	return rc;
}

enum fa_rc cl_settings_resolve(const struct fa_client_config *cfg, struct cl_settings *s,
			       struct fa_err *err)
{
	char *v = NULL, src[CL_SRC_MAX], where[CL_SRC_MAX - 40];
	bool given = false;
	enum fa_rc rc;

	memset(s, 0, sizeof(*s));
	rc = resolve_endpoint(cfg, s, err);
	if (rc == FA_OK)
		rc = resolve_auth_type(cfg, s, err);
	if (rc != FA_OK)
		goto out;

	rc = cl_env_get("FLYTE_CREDENTIALS_CLIENT_ID", FA_MAX_ID, &v, src, sizeof(src), err);
	if (rc != FA_OK) {
		rc = env_fail(rc, err);
		goto out;
	}
	if (v && !no_space(v)) {
		rc = fa_err_set(err, FA_ECONFIG, "%.64s: a client id has no spaces", src);
		goto out;
	}
	if (v) {
		snprintf(s->client_id_src, sizeof(s->client_id_src), "%s", src);
	} else {
		cfg_src(&cfg->client_id_pos, where, sizeof(where));
		snprintf(s->client_id_src, sizeof(s->client_id_src), "admin.clientId (%s)", where);
	}
	s->client_id = v ? v : strdup(cfg->client_id);
	v = NULL;
	if (!s->client_id) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}

	rc = cl_env_get("FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY", FA_CLIENT_MAX_HEADER_NAME,
			&v, src, sizeof(src), err);
	if (rc != FA_OK) {
		rc = env_fail(rc, err);
		goto out;
	}
	if (v && !header_ok(v)) {
		rc = fa_err_set(err, FA_ECONFIG, "%.64s: not an HTTP header name", src);
		goto out;
	}
	s->header = v ? v : strdup(cfg->authorization_header);
	v = NULL;
	if (!s->header) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}

	rc = cl_env_get("FLYTE_CREDENTIALS_OAUTH_SCOPES", FA_MAX_SCOPE, &v, src, sizeof(src), err);
	if (rc != FA_OK) {
		rc = env_fail(rc, err);
		goto out;
	}
	if (v)
		rc = split_scopes(src, v, s, err);
	else if (copy_scopes(&cfg->scopes, s) != FA_OK)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
	if (rc != FA_OK)
		goto out;

	rc = env_bool("FLYTE_PLATFORM_AUTH", &s->platform_auth, &given, err);
	if (rc != FA_OK)
		rc = env_fail(rc, err);
	if (rc == FA_OK && !*s->base_url && s->auth_type != FA_CLIENT_AUTH_EXTERNAL_COMMAND)
		rc = fa_err_set(err, FA_ECONFIG, "no endpoint: set admin.endpoint in the config "
				"file or FLYTE_PLATFORM_URL");
out:
	free(v);
	if (rc != FA_OK)
		cl_settings_cleanup(s);
	return rc;
}

void cl_settings_cleanup(struct cl_settings *s)
{
	free(s->client_id);
	free(s->header);
	free_list(s->scopes, s->n_scopes);
	s->client_id = NULL;
	s->header = NULL;
	s->scopes = NULL;
	s->n_scopes = 0;
}

enum fa_rc cl_client_secret(const struct fa_client_config *cfg, char **out, struct fa_err *err)
{
	char src[CL_SRC_MAX], where[CL_SRC_MAX - 40];
	struct fa_err e;
	enum fa_rc rc;

	*out = NULL;
	rc = cl_env_get("FLYTE_CREDENTIALS_CLIENT_SECRET", FA_MAX_PASSWORD, out, src, sizeof(src),
			err);
	if (rc != FA_OK)
		return env_fail(rc, err);
	if (*out)
		return FA_OK;
	if (*cfg->client_secret_env_var) {
		const char *v = getenv(cfg->client_secret_env_var);
		cfg_line(&cfg->client_secret_env_var_pos, where, sizeof(where));
		if (!v || !*v)
			return fa_err_set(err, FA_ECONFIG, "admin.clientSecretEnvVar (%.100s) names "
					  "%.64s, which is not set", where, cfg->client_secret_env_var);
		*out = strdup(v);
		if (!*out)
			return fa_err_set(err, FA_ENOMEM, "out of memory");
		rc = check_value(cfg->client_secret_env_var, *out, FA_MAX_PASSWORD, err);
		if (rc == FA_OK && !**out)
			rc = fa_err_set(err, FA_ECONFIG, "%.64s holds only whitespace",
					cfg->client_secret_env_var);
		if (rc != FA_OK) {
			fa_free_secret(*out);
			*out = NULL;
			return env_fail(rc, err);
		}
		return FA_OK;
	}
	rc = cl_read_trimmed(cfg->client_secret_location, FA_MAX_PASSWORD, out, &e);
	if (rc == FA_OK && (!**out || has_control(*out, strlen(*out)))) {
		fa_free_secret(*out);
		*out = NULL;
		rc = fa_err_set(&e, FA_EINVAL, "%.200s is empty or holds control characters",
				cfg->client_secret_location);
	}
	if (rc != FA_OK) {
		cfg_line(&cfg->client_secret_location_pos, where, sizeof(where));
		return fa_err_set(err, rc == FA_ENOMEM ? FA_ENOMEM : FA_ECONFIG,
				  "no client secret: %s (admin.clientSecretLocation, %s)", e.msg, where);
	}
	return FA_OK;
}

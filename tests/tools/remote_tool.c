/* remote_tool.c -- a small command-line front end to src/remote for the
 * black-box tests (tests/bb/remote.test.mjs), which drive it against the
 * real oidc-provider, node HTTPS servers with throwaway CAs, a node proxy
 * and misbehaving servers. A test tool, not a product command.
 *
 *   remote_tool [OPTIONS] get URL [MAX]      GET, require 200 + a JSON object; print it
 *   remote_tool [OPTIONS] discovery ISSUER [URL]
 *                                            fetch + validate metadata; print a summary
 *   remote_tool [OPTIONS] verify ISSUER      hold the issuer (discovery in the background,
 *                                            key set) and verify the tokens read from stdin,
 *                                            one per line; "stats" prints counters
 * OPTIONS: --ca FILE, --proxy URL, --timeout-ms N, --kind oidc|oauth,
 *          --min-refetch-ms N, --retry-ms N, --aud AUD
 *
 * verify prints "ready" once the document is loaded (or "loading: <error>"
 * after the first failed attempt), then one line per input: "ok <sub>" or
 * "err <code> <message>". Log lines go to stderr. Exit 0 on success, 1 on
 * failure with "remote_tool: <message> (<code>)" on stderr, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote.h"

struct opts {
	struct fa_remote_opts remote;
	enum fa_discovery_kind kind;
	int64_t min_refetch_ms;
	int64_t retry_ms;
	const char *aud;
};

static int fail(const struct fa_err *e)
{
	fprintf(stderr, "remote_tool: %s (%s)\n", e->msg, fa_rc_str(e->rc));
	return 1;
}

static int64_t number(const char *s)
{
	uint64_t v = 0;

	if (fa_parse_u64(s, strlen(s), 3600 * 1000, &v) != FA_OK) {
		fprintf(stderr, "remote_tool: bad number %s\n", s);
		exit(2);
	}
	return (int64_t)v;
}

static int cmd_get(const struct fa_remote *r, const char *url, size_t max, struct fa_err *e)
{
	struct fa_remote_resp resp;
	json_t *doc = NULL;

	if (fa_remote_get_json(r, url, max, "document", NULL, &doc, &resp, e) != FA_OK)
		return fail(e);
	json_dumpf(doc, stdout, JSON_COMPACT);
	printf("\n%ld %s %lld\n", resp.status, resp.content_type, (long long)resp.max_age_s);
	json_decref(doc);
	fa_remote_resp_cleanup(&resp);
	return 0;
}

static int cmd_discovery(const struct fa_remote *r, const struct opts *o, const char *issuer,
			 const char *url, struct fa_err *e)
{
	struct fa_discovery *d = NULL;
	json_t *algs = json_array(), *sum;

	if (fa_discovery_fetch(r, o->kind, issuer, url, NULL, &d, e) != FA_OK) {
		json_decref(algs);
		return fail(e);
	}
	for (unsigned a = 1; a < 32; a++)
		if (d->id_token_algs & FA_JWS_ALG_BIT(a))
			json_array_append_new(algs, json_string(fa_jws_alg_name((enum fa_jws_alg)a)));
	sum = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:s?,s:I,s:i}", "issuer", d->issuer, "url", d->url,
			"jwks_uri", d->jwks_uri, "token_endpoint", d->token_endpoint, "template",
			d->issuer_is_template, "id_token_algs", algs, "end_session_endpoint",
			d->end_session_endpoint, "raw_len", (json_int_t)d->raw_len, "rsa_alg",
			(int)fa_discovery_rsa_alg(d));
	json_dumpf(sum, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(sum);
	fa_discovery_free(d);
	return 0;
}

static void print_stats(struct fa_remote_issuer *iss)
{
	struct fa_remote_issuer_stats st;

	fa_remote_issuer_stats(iss, &st);
	printf("{\"discovery_attempts\":%llu,\"discovery_failures\":%llu,\"state\":%d,"
	       "\"jwks_fetches\":%llu,\"jwks_failures\":%llu,\"kid_refetches\":%llu,"
	       "\"throttled\":%llu,\"keys\":%zu}\n",
	       (unsigned long long)st.discovery.attempts, (unsigned long long)st.discovery.failures,
	       (int)st.discovery.state, (unsigned long long)st.jwks.fetches,
	       (unsigned long long)st.jwks.failures, (unsigned long long)st.jwks.kid_refetches,
	       (unsigned long long)st.jwks.throttled, st.jwks.keys);
}

static int cmd_verify(const struct fa_remote *r, const struct opts *o, const char *issuer,
		      struct fa_err *e)
{
	struct fa_log log = { .fp = stderr, .min = FA_LOG_DEBUG };
	struct fa_remote_issuer_opts io = { .kind = o->kind, .issuer = issuer, .log = &log };
	struct fa_remote_issuer *iss;
	struct fa_discovery *d = NULL;
	char line[FA_MAX_TOKEN + 64];

	io.first_delay_ms = o->retry_ms;
	io.max_delay_ms = o->retry_ms ? 4 * o->retry_ms : 0;
	io.jwks.min_refetch_ms = o->min_refetch_ms;
	if (fa_remote_issuer_start(r, &io, &iss, e) != FA_OK)
		return fail(e);
	if (fa_remote_issuer_wait(iss, 20000) == FA_HOLDER_READY)
		printf("ready\n");
	else if (fa_remote_issuer_discovery(iss, &d, e) != FA_OK)
		printf("loading: %s\n", e->msg);
	fa_discovery_free(d);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		struct fa_jwt_rules rules;
		const char *aud[1] = { o->aud };
		json_t *claims = NULL;
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (strcmp(line, "stats") == 0) {
			print_stats(iss);
		} else if (strcmp(line, "discovery") == 0) {
			if (fa_remote_issuer_discovery(iss, &d, e) == FA_OK)
				printf("ok %s\n", d->jwks_uri);
			else
				printf("err %s %s\n", fa_rc_str(e->rc), e->msg);
			fa_discovery_free(d);
			d = NULL;
		} else {
			fa_jwt_rules_init(&rules);
			if (o->aud) {
				rules.audiences = aud;
				rules.n_audiences = 1;
			}
			fa_err_clear(e);
			if (fa_remote_issuer_verify(iss, &rules, line, n, &claims, NULL, e) == FA_OK)
				printf("ok %s\n", json_string_value(json_object_get(claims, "sub")));
			else
				printf("err %s %s\n", fa_rc_str(e->rc), e->msg);
			json_decref(claims);
		}
		fflush(stdout);
	}
	fa_remote_issuer_free(iss);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .kind = FA_DISCOVERY_OIDC };
	struct fa_remote *r = NULL;
	struct fa_err e;
	int i, rc = 2;

	fa_err_clear(&e);
	for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--ca") == 0)
			o.remote.ca_file = argv[i + 1];
		else if (strcmp(argv[i], "--proxy") == 0)
			o.remote.proxy_url = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			o.remote.timeout_ms = number(argv[i + 1]);
		else if (strcmp(argv[i], "--min-refetch-ms") == 0)
			o.min_refetch_ms = number(argv[i + 1]);
		else if (strcmp(argv[i], "--retry-ms") == 0)
			o.retry_ms = number(argv[i + 1]);
		else if (strcmp(argv[i], "--aud") == 0)
			o.aud = argv[i + 1];
		else if (strcmp(argv[i], "--kind") == 0)
			o.kind = strcmp(argv[i + 1], "oauth") == 0 ? FA_DISCOVERY_OAUTH : FA_DISCOVERY_OIDC;
		else
			goto usage;
	}
	if (i >= argc)
		goto usage;
	if (fa_remote_new(&o.remote, &r, &e) != FA_OK)
		return fail(&e);
	if (strcmp(argv[i], "get") == 0 && (argc - i == 2 || argc - i == 3))
		rc = cmd_get(r, argv[i + 1], argc - i == 3 ? (size_t)number(argv[i + 2]) : FA_MAX_JWKS,
			     &e);
	else if (strcmp(argv[i], "discovery") == 0 && (argc - i == 2 || argc - i == 3))
		rc = cmd_discovery(r, &o, argv[i + 1], argc - i == 3 ? argv[i + 2] : NULL, &e);
	else if (strcmp(argv[i], "verify") == 0 && argc - i == 2)
		rc = cmd_verify(r, &o, argv[i + 1], &e);
	else
		goto usage;
	fa_remote_free(r);
	return rc;
usage:
	fa_remote_free(r);
	fputs("usage: remote_tool [--ca FILE] [--proxy URL] [--timeout-ms N] [--kind oidc|oauth]\n"
	      "       [--min-refetch-ms N] [--retry-ms N] [--aud AUD]\n"
	      "       get URL [MAX] | discovery ISSUER [URL] | verify ISSUER\n", stderr);
	return 2;
}

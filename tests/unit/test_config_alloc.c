/* test_config_alloc.c -- loading configuration under allocation failure
 * (see failalloc.h): a full flyteadmin config, a flyte-binary Helm values
 * file, a config with errors, and a flytectl client config, through
 * libyaml, the YAML tree, the walker, the Helm mapping and validation.
 * Every failure point must end in a clean error (FA_ENOMEM, or the file's
 * own errors) or success, and nothing may leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "failalloc.h"

struct file {
	const char *data;
	size_t len;
	enum fa_rc want;     /* the verdict without injected failures */
};

static enum fa_rc load_server(void *arg, struct fa_err *err)
{
	const struct file *f = arg;
	struct fa_config_diag *d = fa_config_diag_new();
	struct fa_config *cfg = NULL;
	enum fa_rc rc;

	if (!d)
		return fa_err_set(err, FA_ENOMEM, "out of memory (diag)");
	rc = fa_config_load_buffer("t.yaml", f->data, f->len, d, &cfg, err);
	if (rc != FA_OK)
		assert_null(cfg);
	fa_config_free(cfg);
	fa_config_diag_free(d);
	/* A file with errors fails the same way every time it is read in
	 * full: an injected failure may only turn that into FA_ENOMEM. */
	if (f->want != FA_OK && rc == f->want)
		return FA_OK;
	return rc;
}

static enum fa_rc load_client(void *arg, struct fa_err *err)
{
	const struct file *f = arg;
	struct fa_client_config *cc = NULL;
	enum fa_rc rc = fa_client_config_load_buffer("c.yaml", f->data, f->len, NULL, &cc, err);

	if (rc == FA_OK)
		assert_string_equal(cc->endpoint, "dns:///flyte.example.com:443");
	fa_client_config_free(cc);
	return rc;
}

static void read_fixture(struct file *f, const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	f->data = buf;
	f->len = (size_t)n;
	fclose(fp);
}

static void test_flyteadmin(void **state)
{
	struct file f = { .want = FA_OK };

	(void)state;
	read_fixture(&f, FA_SOURCE_DIR "/tests/config/flyteadmin-full.yaml");
	print_message("%zu failure points\n", failalloc_loop(load_server, &f));
	free((void *)(uintptr_t)f.data);
}

static void test_helm_values(void **state)
{
	struct file f = { .want = FA_OK };

	(void)state;
	read_fixture(&f, FA_SOURCE_DIR "/tests/config/seed/flyte-binary-oidc.yaml");
	print_message("%zu failure points\n", failalloc_loop(load_server, &f));
	free((void *)(uintptr_t)f.data);
}

static void test_with_errors(void **state)
{
	static const char yaml[] =
		"server: {httpPort: 99999, bogus: 1}\n"
		"auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 500ms\n"
		"      staticClients:\n        x: {id: '', client_secret: nope}\n";
	struct file f = { .data = yaml, .len = sizeof(yaml) - 1, .want = FA_ECONFIG };

	(void)state;
	print_message("%zu failure points\n", failalloc_loop(load_server, &f));
}

static void test_client_config(void **state)
{
	static const char yaml[] =
		"admin:\n  endpoint: dns:///flyte.example.com:443\n  authType: Pkce\n"
		"  scopes: [all, offline]\n  pkceConfig: {timeout: 3m}\n"
		"logger: {level: 4}\n";
	struct file f = { .data = yaml, .len = sizeof(yaml) - 1, .want = FA_OK };

	(void)state;
	print_message("%zu failure points\n", failalloc_loop(load_client, &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flyteadmin),
		cmocka_unit_test(test_helm_values),
		cmocka_unit_test(test_with_errors),
		cmocka_unit_test(test_client_config),
	};

	failalloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

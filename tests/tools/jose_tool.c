/* jose_tool.c -- a small command-line front end to src/jose for the
 * black-box interop tests (tests/bb/jose_interop.test.mjs), which drive it
 * against the npm `jose` library. It is a test tool, not a product command:
 * it reads files given on the command line and prints results on stdout.
 *
 *   jose_tool [--alg ALG] <command> ...
 *   jose_tool generate <ALG>                       private key, PKCS#8 PEM
 *   jose_tool jwk <key-file>                       public JWK
 *   jose_tool thumbprint <key-file>                RFC 7638 thumbprint
 *   jose_tool jwks <key-file>...                   {"keys":[...]} (public)
 *   jose_tool sign <key-file> <payload-file> [typ] compact JWS
 *   jose_tool verify <jwks-or-jwk-file> <token-file>  payload bytes
 *
 * A key file holds PEM or one JWK (JSON). --alg pins every key loaded from a
 * PEM file, or from a JWK without "alg", to ALG (fa_jwk_from_pem_alg; for a
 * JWKS, the RSA default of fa_jwks_parse_rsa), as a deployment pins the alg
 * of its keys; without it a key gets its type's default (RSA: RS256).
 * Exit 0 on success, 1 on failure with "jose_tool: <message>" on stderr, 2
 * on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jose.h"

static const char usage[] =
	"usage: jose_tool [--alg ALG] generate ALG | jwk KEY | thumbprint KEY | jwks KEY... |\n"
	"       sign KEY PAYLOAD [TYP] | verify JWKS TOKEN\n";

static int fail(const struct fa_err *e)
{
	fprintf(stderr, "jose_tool: %s (%s)\n", e->msg, fa_rc_str(e->rc));
	return 1;
}

/* Whole file, NUL-terminated, at most max bytes. */
static enum fa_rc read_file(const char *path, size_t max, char **out, size_t *len,
			    struct fa_err *err)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	enum fa_rc rc = FA_OK;

	*out = NULL;
	if (!fp)
		return fa_err_set(err, FA_EIO, "cannot open %s", path);
	buf = malloc(max + 2);
	if (!buf) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	n = fread(buf, 1, max + 1, fp);
	if (ferror(fp)) {
		rc = fa_err_set(err, FA_EIO, "cannot read %s", path);
		goto out;
	}
	if (n > max) {
		rc = fa_err_set(err, FA_ETOOBIG, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(fp);
	return rc;
}

static bool is_json(const char *s)
{
	s += strspn(s, " \t\r\n");
	return *s == '{';
}

/* One JWK, with "alg" set to pin (--alg, or 0) when it names none. */
static enum fa_rc parse_jwk(const char *text, size_t len, enum fa_jws_alg pin,
			    struct fa_jwk **key, struct fa_err *err)
{
	json_t *o;
	enum fa_rc rc;

	if (!pin)
		return fa_jwk_parse(text, len, key, err);
	if ((rc = fa_json_load(text, len, "JWK", &o, err)) != FA_OK)
		return rc;
	if (!json_object_get(o, "alg"))
		json_object_set_new(o, "alg", json_string(fa_jws_alg_name(pin)));
	rc = fa_jwk_from_json(o, key, err);
	json_decref(o);
	return rc;
}

static enum fa_rc parse_key(const char *text, size_t len, enum fa_jws_alg pin,
			    struct fa_jwk **key, struct fa_err *err)
{
	return is_json(text) ? parse_jwk(text, len, pin, key, err)
			     : fa_jwk_from_pem_alg(text, len, pin, key, err);
}

static enum fa_rc load_key(const char *path, enum fa_jws_alg pin, struct fa_jwk **key,
			   struct fa_err *err)
{
	char *text;
	size_t len;
	enum fa_rc rc = read_file(path, FA_MAX_SECRET, &text, &len, err);

	if (rc != FA_OK)
		return rc;
	rc = parse_key(text, len, pin, key, err);
	fa_memzero(text, len);
	free(text);
	return rc;
}

/* A JWKS document, or a single JWK made into a set of one. */
static enum fa_rc load_set(const char *path, enum fa_jws_alg pin, struct fa_jwks **set,
			   struct fa_err *err)
{
	struct fa_jwk *k = NULL;
	char *text;
	size_t len;
	enum fa_rc rc = read_file(path, FA_MAX_JWKS, &text, &len, err);

	*set = NULL;
	if (rc != FA_OK)
		return rc;
	if (is_json(text) && strstr(text, "\"keys\"")) {
		rc = fa_jwks_parse_rsa(text, len, pin && fa_jws_alg_is_rsa(pin) ? pin : FA_JWS_RS256,
				       set, err);
		goto out;
	}
	rc = parse_key(text, len, pin, &k, err);
	if (rc == FA_OK && (rc = fa_jwks_new(set, err)) == FA_OK && (rc = fa_jwks_add(*set, k, err)) != FA_OK) {
		fa_jwks_free(*set);
		*set = NULL;
	}
out:
	fa_jwk_free(k);
	free(text);
	return rc;
}

static int cmd_generate(const char *alg, struct fa_err *e)
{
	struct fa_jwk *k;
	char *pem;

	if (fa_jwk_generate(alg, &k, e) != FA_OK)
		return fail(e);
	if (fa_jwk_private_pem_dup(k, &pem, NULL, e) != FA_OK) {
		fa_jwk_free(k);
		return fail(e);
	}
	fputs(pem, stdout);
	fa_free_secret(pem);
	fa_jwk_free(k);
	return 0;
}

static int cmd_jwk(const char *path, enum fa_jws_alg pin, bool thumb, struct fa_err *e)
{
	struct fa_jwk *k;
	json_t *j;

	if (load_key(path, pin, &k, e) != FA_OK)
		return fail(e);
	if (thumb) {
		printf("%s\n", fa_jwk_thumbprint(k));
	} else if (fa_jwk_public_json(k, &j, e) == FA_OK) {
		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
	} else {
		fa_jwk_free(k);
		return fail(e);
	}
	fa_jwk_free(k);
	return 0;
}

static int cmd_jwks(int n, char **paths, enum fa_jws_alg pin, struct fa_err *e)
{
	struct fa_jwks *s;
	struct fa_jwk *k;
	char *text;
	int rc = 1;

	if (fa_jwks_new(&s, e) != FA_OK)
		return fail(e);
	for (int i = 0; i < n; i++) {
		if (load_key(paths[i], pin, &k, e) != FA_OK)
			goto out;
		if (fa_jwks_add(s, k, e) != FA_OK) {
			fa_jwk_free(k);
			goto out;
		}
		fa_jwk_free(k);
	}
	if (fa_jwks_format(s, &text, NULL, e) != FA_OK)
		goto out;
	printf("%s\n", text);
	free(text);
	rc = 0;
out:
	fa_jwks_free(s);
	return rc ? fail(e) : 0;
}

static int cmd_sign(const char *key_path, const char *payload_path, const char *typ,
		    enum fa_jws_alg pin, struct fa_err *e)
{
	struct fa_jwk *k = NULL;
	char *payload = NULL, *tok = NULL;
	size_t len;
	int rc = 1;

	if (load_key(key_path, pin, &k, e) != FA_OK ||
	    read_file(payload_path, FA_MAX_TOKEN, &payload, &len, e) != FA_OK ||
	    fa_jws_sign(k, typ, NULL, payload, len, &tok, e) != FA_OK)
		goto out;
	printf("%s\n", tok);
	rc = 0;
out:
	free(tok);
	free(payload);
	fa_jwk_free(k);
	return rc ? fail(e) : 0;
}

static int cmd_verify(const char *set_path, const char *token_path, enum fa_jws_alg pin,
		      struct fa_err *e)
{
	struct fa_jwks *s = NULL;
	struct fa_jws j = { 0 };
	char *tok = NULL;
	size_t len;
	int rc = 1;

	if (load_set(set_path, pin, &s, e) != FA_OK ||
	    read_file(token_path, FA_MAX_TOKEN + 2, &tok, &len, e) != FA_OK)
		goto out;
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
		tok[--len] = '\0';
	if (fa_jws_verify(s, FA_JWS_ALGS_ALL, tok, len, &j, e) != FA_OK)
		goto out;
	fwrite(j.raw, 1, j.raw_len, stdout);
	rc = 0;
out:
	fa_jws_cleanup(&j);
	free(tok);
	fa_jwks_free(s);
	return rc ? fail(e) : 0;
}

int main(int argc, char **argv)
{
	struct fa_err e;
	enum fa_jws_alg pin = 0;   /* --alg: the pin for keys that name no alg */
	const char *cmd;

	fa_err_clear(&e);
	if (argc > 2 && strcmp(argv[1], "--alg") == 0) {
		if (fa_jws_alg_parse(argv[2], &pin, &e) != FA_OK)
			return fail(&e);
		argc -= 2;
		argv += 2;
	}
	cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "generate") == 0 && argc == 3)
		return cmd_generate(argv[2], &e);
	if (strcmp(cmd, "jwk") == 0 && argc == 3)
		return cmd_jwk(argv[2], pin, false, &e);
	if (strcmp(cmd, "thumbprint") == 0 && argc == 3)
		return cmd_jwk(argv[2], pin, true, &e);
	if (strcmp(cmd, "jwks") == 0 && argc >= 3)
		return cmd_jwks(argc - 2, argv + 2, pin, &e);
	if (strcmp(cmd, "sign") == 0 && (argc == 4 || argc == 5))
		return cmd_sign(argv[2], argv[3], argc == 5 ? argv[4] : NULL, pin, &e);
	if (strcmp(cmd, "verify") == 0 && argc == 4)
		return cmd_verify(argv[2], argv[3], pin, &e);
	fputs(usage, stderr);
	return 2;
}

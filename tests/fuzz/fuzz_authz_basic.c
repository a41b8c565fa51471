/* fuzz_authz_basic.c -- libFuzzer target for the HTTP Basic client
 * credentials parser of the token, introspection, revocation and device
 * endpoints (fa_authz_basic_parse, authz/authz_int.h).
 *
 * Its promises, checked on every input: FA_OK gives a NUL-terminated id of
 * at most FA_MAX_ID bytes and a secret of at most FA_MAX_PASSWORD bytes,
 * neither holding a control byte; FA_ENOTFOUND (not Basic at all) and every
 * refusal leave both empty. And what it accepts round-trips: encoding the
 * id and secret again (form-encoded, base64) and parsing that gives the
 * same pair.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			__builtin_trap();
}

/* "Basic " + base64(pct(id) ":" pct(secret)), parsed again. */
static void round_trip(const char *id, const char *secret)
{
	char id2[FA_MAX_ID + 1], secret2[FA_MAX_PASSWORD + 1];
	struct fa_buf plain, header;
	char *b64 = NULL;

	fa_buf_init(&plain, 4 * FA_AUTHZ_MAX_BASIC);
	fa_buf_init(&header, 8 * FA_AUTHZ_MAX_BASIC);
	if (fa_buf_append_pct(&plain, id, "") != FA_OK || fa_buf_appends(&plain, ":") != FA_OK ||
	    fa_buf_append_pct(&plain, secret, "") != FA_OK)
		__builtin_trap();
	b64 = fa_b64_encode_dup(fa_buf_str(&plain), plain.len, FA_B64_STD);
	if (!b64 || fa_buf_appendf(&header, "Basic %s", b64) != FA_OK)
		__builtin_trap();
	/* Percent-encoding may make a long pair too long to send again; a
	 * pair that fits must come back unchanged. */
	if (fa_authz_basic_parse(fa_buf_str(&header), id2, secret2, NULL) == FA_OK) {
		if (strcmp(id, id2) != 0 || strcmp(secret, secret2) != 0)
			__builtin_trap();
	} else if (plain.len < FA_AUTHZ_MAX_BASIC / 2) {
		__builtin_trap();
	}
	free(b64);
	fa_buf_cleanup(&plain);
	fa_buf_cleanup(&header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[FA_MAX_ID + 1], secret[FA_MAX_PASSWORD + 1];
	char *s;
	enum fa_rc rc;

	if (size > 4 * FA_AUTHZ_MAX_BASIC)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(id, 'x', sizeof(id));
	memset(secret, 'x', sizeof(secret));
	rc = fa_authz_basic_parse(s, id, secret, NULL);
	if (memchr(id, '\0', sizeof(id)) == NULL || memchr(secret, '\0', sizeof(secret)) == NULL)
		__builtin_trap();
	if (rc != FA_OK) {
		if (rc != FA_ENOTFOUND && rc != FA_EINVAL && rc != FA_ETOOBIG)
			__builtin_trap();
		/* A refusal leaves nothing a caller could use by mistake. */
		if (id[0] || secret[0])
			__builtin_trap();
	} else {
		no_controls(id);
		no_controls(secret);
		round_trip(id, secret);
	}
	fa_memzero(secret, sizeof(secret));
	free(s);
	return 0;
}

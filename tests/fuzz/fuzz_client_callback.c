/* fuzz_client_callback.c -- libFuzzer target for what reaches the client
 * from outside: the query string of the login redirect on the loopback
 * listener (cl_callback_parse), a token-endpoint answer (cl_token_parse)
 * and a JWT whose exp is read without verification (cl_jwt_exp), from the
 * internal header client/client_int.h.
 *
 * Besides "no crash, no leak, no UB", it checks the promises: a code
 * handed out is non-empty, has no NUL and fits CL_MAX_CODE; a parsed token
 * is printable, within FA_MAX_TOKEN, with an expiry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char state[] = "S-state-0123456789";
	char *code = NULL, *text;
	struct cl_token t;
	struct fa_err err;
	int64_t exp;
	json_t *j;

	if (cl_callback_parse((const char *)data, size, state, &code, &err) == FA_OK) {
		if (!code || !*code || strlen(code) > CL_MAX_CODE)
			__builtin_trap();
		fa_free_secret(code);
	}
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j) {
		cl_token_init(&t);
		if (json_is_object(j) && cl_token_parse(j, 1000, &t, &err) == FA_OK) {
			size_t n = strlen(t.access_token);
			if (n == 0 || n > FA_MAX_TOKEN || t.expires_at <= 0)
				__builtin_trap();
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)t.access_token[i] < 0x21 ||
				    (unsigned char)t.access_token[i] > 0x7e)
					__builtin_trap();
		}
		cl_token_cleanup(&t);
		json_decref(j);
	}
	text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (cl_jwt_exp(text, &exp) == FA_OK && exp <= 0)
			__builtin_trap();
		free(text);
	}
	return 0;
}

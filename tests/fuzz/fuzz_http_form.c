/* fuzz_http_form.c -- libFuzzer target for the query-string / form-body
 * parser (fa_http_params_parse, from the internal header http/http_int.h).
 *
 * Besides "no crash, no leak, no UB", it checks the parser's promises on
 * every accepted input: at most FA_MAX_FIELDS pairs, no name twice, every
 * name non-empty, every name and value valid UTF-8 without NUL and within
 * FA_MAX_FIELD_VALUE; and every refusal is a 400 invalid_request.
 */
#include <stdint.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_arena *a = fa_arena_new(FA_MAX_REQUEST_ARENA);
	struct fa_kvs kvs;
	struct fa_err err;
	enum fa_rc rc;

	if (!a)
		return 0;
	fa_err_clear(&err);
	rc = fa_http_params_parse(a, (const char *)data, size, &kvs, &err);
	if (rc == FA_OK) {
		if (kvs.n > FA_MAX_FIELDS)
			__builtin_trap();
		for (size_t i = 0; i < kvs.n; i++) {
			const struct fa_kv *kv = &kvs.v[i];

			if (kv->name_len == 0 || kv->name_len > FA_MAX_FIELD_VALUE ||
			    kv->value_len > FA_MAX_FIELD_VALUE ||
			    strlen(kv->name) != kv->name_len || strlen(kv->value) != kv->value_len ||
			    !fa_http_utf8_ok(kv->name, kv->name_len) ||
			    !fa_http_utf8_ok(kv->value, kv->value_len))
				__builtin_trap();
			for (size_t j = 0; j < i; j++)
				if (strcmp(kvs.v[j].name, kv->name) == 0)
					__builtin_trap();
			if (kv->value_len && fa_http_kvs_get(&kvs, kv->name) != kv->value)
				__builtin_trap();
		}
	} else if (rc != FA_ENOMEM &&
		   (!err.oauth_error ||
		    strcmp(err.oauth_error, "invalid_request") != 0 || !err.msg[0])) {
		__builtin_trap();
	}
	fa_arena_free(a);
	return 0;
}

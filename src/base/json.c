/* json.c -- the one way flyteauth reads JSON text: bounded nesting, no
 * duplicate members, an object at the top.
 *
 * Every JSON document that comes from outside the process (tokens, JWKS,
 * metadata, a server's answers to the client, the store's records, the
 * client's token cache) goes through fa_json_load, so none of them can
 * exhaust a thread's stack or be read two ways. It does not interpret any
 * member: callers do.
 */
#include <jansson.h>

#include "base/base.h"

/* jansson only bounds nesting at 2048 levels, deep enough to exhaust a
 * thread's stack in the recursive parser and in json_decref. This scan counts
 * brackets outside strings; it does not validate: json_loadb does. */
static bool depth_ok(const char *buf, size_t len, size_t max_depth)
{
	size_t depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth)
				return false;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return true;
}

enum fa_rc fa_json_load(const char *buf, size_t len, const char *what, struct json_t **out,
			struct fa_err *err)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (!depth_ok(buf, len, FA_MAX_JSON_DEPTH))
		return fa_err_set(err, FA_EINVAL, "%s nests deeper than %d levels", what,
				  FA_MAX_JSON_DEPTH);
	/* Duplicate members would let two parsers read two different values. */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		/* Out of memory is the one failure jansson reports that way. */
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return fa_err_set(err, FA_ENOMEM, "out of memory reading %s", what);
		/* jerr.text may quote the input; give only its position. */
		return fa_err_set(err, FA_EINVAL, "%s is not valid JSON (position %d)", what,
				  jerr.position);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return fa_err_set(err, FA_EINVAL, "%s is not a JSON object", what);
	}
	*out = j;
	return FA_OK;
}

json_t *fa_json_strings(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* fuzz_base_json.c -- libFuzzer target for base's bounded JSON loader
 * (fa_json_load), which every JSON document from outside the process goes
 * through.
 *
 * Besides "no crash, no leak, no UB", it checks the loader's promises: an
 * accepted document is an object that re-serialises and loads again; a
 * refusal leaves *out NULL and a message that names the document and never
 * repeats the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_err err;
	json_t *j = (json_t *)&err, *again = NULL;
	char *text;

	fa_err_clear(&err);
	if (fa_json_load((const char *)data, size, "fuzz input", &j, &err) != FA_OK) {
		if (j != NULL || (strncmp(err.msg, "fuzz input ", 11) != 0 && err.rc != FA_ENOMEM))
			__builtin_trap();
		return 0;
	}
	if (!json_is_object(j))
		__builtin_trap();
	text = json_dumps(j, JSON_COMPACT);
	if (text) {
		if (fa_json_load(text, strlen(text), "again", &again, &err) != FA_OK ||
		    !json_equal(j, again))
			__builtin_trap();
		json_decref(again);
		free(text);
	}
	json_decref(j);
	return 0;
}

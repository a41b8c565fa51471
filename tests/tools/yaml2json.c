/* yaml2json.c -- reads a YAML stream (every document of it) with libyaml,
 * the parser flyteauth already depends on, and prints it as a JSON array
 * of documents: the black-box packaging test reads the Kubernetes example
 * with it instead of a YAML package from npm.
 *
 * Plain scalars get YAML 1.1's core types, as Kubernetes' loader gives
 * them: null/~, true/false, integers (a leading 0 is octal, so a Secret's
 * `defaultMode: 0440` is 288) and decimals; everything quoted, and
 * anything else, is a string. Anchors and aliases, which the examples do
 * not use, are refused. Exit 1 with a message on a parse error.
 *
 * Usage: yaml2json FILE
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

/* Nesting deeper than this is refused (a guard, not a real limit). */
#define MAX_DEPTH 64

static json_t *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	char *end = NULL;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, n);
	if (n == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0)
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0)
		return json_false();
	size_t sign = v[0] == '-';
	if (n > sign && strspn(v + sign, "0123456789") == n - sign) {
		/* checksrc bans the strto* family in src/ only; a test tool may
		 * use the C library's own integer grammar. */
		int base = n - sign > 1 && v[sign] == '0' ? 8 : 10;
		long long x = strtoll(v, &end, base);
		if (end != NULL && *end == '\0')
			return json_integer(x);
	}
	if (strspn(v, "-0123456789.") == n && strchr(v, '.') != NULL) {
		double d = strtod(v, &end);
		if (end != NULL && *end == '\0')
			return json_real(d);
	}
	return json_stringn(v, n);
}

/* Builds the node that starts with `ev` (already read). */
static json_t *node(yaml_parser_t *p, yaml_event_t *ev, int depth)
{
	json_t *out = NULL, *key = NULL, *val;
	yaml_event_t e;

	if (depth > MAX_DEPTH) {
		fprintf(stderr, "yaml2json: nesting deeper than %d\n", MAX_DEPTH);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return scalar(ev);
	case YAML_ALIAS_EVENT:
		fprintf(stderr, "yaml2json: aliases are not supported\n");
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		break;
	default:
		fprintf(stderr, "yaml2json: unexpected event %d\n", ev->type);
		return NULL;
	}
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	out = map ? json_object() : json_array();
	for (;;) {
		if (!yaml_parser_parse(p, &e)) {
			fprintf(stderr, "yaml2json: line %zu: %s\n", p->problem_mark.line + 1,
				p->problem ? p->problem : "parse error");
			goto fail;
		}
		if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&e);
			json_decref(key);
			return out;
		}
		val = node(p, &e, depth + 1);
		yaml_event_delete(&e);
		if (val == NULL)
			goto fail;
		if (!map) {
			json_array_append_new(out, val);
		} else if (key == NULL) {
			key = val;
			if (!json_is_string(key)) {
				fprintf(stderr, "yaml2json: a mapping key is not a string\n");
				goto fail;
			}
		} else {
			json_object_set_new(out, json_string_value(key), val);
			json_decref(key);
			key = NULL;
		}
	}
fail:
	json_decref(key);
	json_decref(out);
	return NULL;
}

int main(int argc, char **argv)
{
	yaml_parser_t p;
	yaml_event_t e;
	json_t *docs = json_array();
	FILE *fp;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: yaml2json FILE\n");
		return 2;
	}
	fp = fopen(argv[1], "rb");
	if (fp == NULL) {
		perror(argv[1]);
		return 1;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, fp);
	for (;;) {
		if (!yaml_parser_parse(&p, &e)) {
			fprintf(stderr, "%s:%zu: %s\n", argv[1], p.problem_mark.line + 1,
				p.problem ? p.problem : "parse error");
			goto out;
		}
		if (e.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		if (e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT ||
		    e.type == YAML_SCALAR_EVENT || e.type == YAML_ALIAS_EVENT) {
			json_t *doc = node(&p, &e, 0);
			yaml_event_delete(&e);
			if (doc == NULL)
				goto out;
			json_array_append_new(docs, doc);
			continue;
		}
		yaml_event_delete(&e);
	}
	if (json_dumpf(docs, stdout, JSON_COMPACT) == 0 && fputc('\n', stdout) != EOF)
		rc = 0;
out:
	yaml_parser_delete(&p);
	fclose(fp);
	json_decref(docs);
	return rc;
}

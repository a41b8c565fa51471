/* diag.c -- the diagnostics of a config load: one line per problem, in the
 * form "FILE:LINE:COL: message" (with "warning: " or "note: " before the
 * message for the milder kinds), collected in order and capped so that a
 * wrong file produces a readable list rather than a flood. It also makes
 * values safe to quote in a message. It does not decide what is a problem:
 * the loader's other files do, and they never pass a secret value here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* Longest diagnostic line: a position, a dotted path, a quoted value (cut
 * by cfg_quote) and a hint fit comfortably. */
#define DIAG_LINE_MAX 640

struct dline {
	enum fa_config_severity sev;
	char *text;
};

struct fa_config_diag {
	struct dline *lines;
	size_t count;
	size_t cap;
	size_t errors;          /* error lines recorded */
	size_t notes;           /* warning and note lines recorded */
};

struct fa_config_diag *fa_config_diag_new(void)
{
	return calloc(1, sizeof(struct fa_config_diag));
}

void fa_config_diag_free(struct fa_config_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->lines[i].text);
	free(d->lines);
	free(d);
}

size_t fa_config_diag_count(const struct fa_config_diag *d)
{
	return d ? d->count : 0;
}

size_t fa_config_diag_errors(const struct fa_config_diag *d)
{
	return d ? d->errors : 0;
}

const char *fa_config_diag_line(const struct fa_config_diag *d, size_t i)
{
	if (!d || i >= d->count)
		return NULL;
	return d->lines[i].text;
}

enum fa_config_severity fa_config_diag_severity(const struct fa_config_diag *d, size_t i)
{
	if (!d || i >= d->count)
		return FA_CONFIG_NOTE;
	return d->lines[i].sev;
}

const char *cfg_diag_first_error(const struct fa_config_diag *d, size_t from)
{
	for (size_t i = from; d && i < d->count; i++)
		if (d->lines[i].sev == FA_CONFIG_ERROR)
			return d->lines[i].text;
	return NULL;
}

enum fa_rc cfg_report_unreadable(const char *path, enum fa_rc rc, int e,
				 struct fa_config_diag *diag, struct fa_err *err)
{
	struct cfg_ctx c;

	memset(&c, 0, sizeof(c));
	c.file = path;
	c.diag = diag;
	if (rc == FA_ETOOBIG) {
		if (diag)
			cfg_diag(&c, FA_CONFIG_ERROR, cfg_at(&c, NULL), "file is larger than %d bytes",
				 FA_MAX_CONFIG_FILE);
		return fa_err_set(err, rc, "%s: file is larger than %d bytes", path,
				  FA_MAX_CONFIG_FILE);
	}
	if (diag)
		cfg_diag(&c, FA_CONFIG_ERROR, cfg_at(&c, NULL), "cannot read the file: %s",
			 strerror(e));
	return fa_err_set(err, rc, "%s: cannot read the file: %s", path, strerror(e));
}

/* Appends a line; on allocation failure the line is lost and the load is
 * marked as failed for lack of memory, never silently accepted. */
static void diag_push(struct cfg_ctx *c, enum fa_config_severity sev, const char *text)
{
	struct fa_config_diag *d = c->diag;

	if (d->count == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		struct dline *nl = realloc(d->lines, ncap * sizeof(*nl));
		if (!nl) {
			c->enomem = true;
			return;
		}
		d->lines = nl;
		d->cap = ncap;
	}
	char *copy = strdup(text);
	if (!copy) {
		c->enomem = true;
		return;
	}
	d->lines[d->count].sev = sev;
	d->lines[d->count].text = copy;
	d->count++;
	if (sev == FA_CONFIG_ERROR)
		d->errors++;
	else
		d->notes++;
}

struct fa_config_pos cfg_at(const struct cfg_ctx *c, const struct ynode *n)
{
	struct fa_config_pos p = { c->file, n ? n->line : 0, n ? n->col : 0 };

	return p;
}

struct fa_config_pos cfg_line(const struct cfg_ctx *c, int line, int col)
{
	struct fa_config_pos p = { c->file, line, col };

	return p;
}

void cfg_diag(struct cfg_ctx *c, enum fa_config_severity sev, struct fa_config_pos at,
	      const char *fmt, ...)
{
	va_list ap;
	char msg[DIAG_LINE_MAX];
	char text[DIAG_LINE_MAX + 32];
	const char *label = sev == FA_CONFIG_WARNING ? "warning: " :
			    sev == FA_CONFIG_NOTE ? "note: " : "";
	const char *file = c->file ? c->file : "(config)";

	if (sev == FA_CONFIG_ERROR) {
		c->errors++;
		if (c->errors == FA_CONFIG_MAX_ERRORS + 1) {
			snprintf(text, sizeof(text), "%s: too many errors; stopped after %d",
				 file, FA_CONFIG_MAX_ERRORS);
			diag_push(c, FA_CONFIG_ERROR, text);
		}
		if (c->errors > FA_CONFIG_MAX_ERRORS)
			return;
	} else if (c->diag->notes >= FA_CONFIG_MAX_NOTES) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);   /* a cut message is still useful */
	va_end(ap);
	if (at.line > 0)
		snprintf(text, sizeof(text), "%s:%d:%d: %s%s", file, at.line, at.col, label, msg);
	else
		snprintf(text, sizeof(text), "%s: %s%s", file, label, msg);
	diag_push(c, sev, text);
}

/* Values are quoted so the operator can see what was read; a terminal must
 * not be driven by control bytes from a file, and a 1 MiB value must not
 * become a 1 MiB line. */
const char *cfg_quote(const char *s, size_t n, char *buf, size_t cap)
{
	const size_t keep = cap > 64 ? 60 : (cap > 4 ? cap - 4 : 0);
	size_t o = 0, i = 0;

	if (cap == 0)
		return buf;
	for (; i < n && o < keep; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (i < n) {
		/* Do not end inside a UTF-8 sequence. */
		while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0xc0)
			o--;
		if (cap - o > 3) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
	}
	buf[o] = '\0';
	return buf;
}

const char *fa_config_pos_format(const struct fa_config_pos *pos, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return buf;
	if (!pos || !pos->file)
		snprintf(buf, cap, "built-in default");
	else if (pos->line <= 0)
		snprintf(buf, cap, "%s", pos->file);
	else
		snprintf(buf, cap, "%s:%d:%d", pos->file, pos->line, pos->col);
	return buf;
}

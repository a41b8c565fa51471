/* help.c -- renders the command table (commands.c) two ways: as `--help`
 * text for a terminal, wrapped at 79 columns, and as the flyteauth(1)
 * manual page in roff (`flyteauth man`); and prints the one-line failure
 * and usage messages every command ends with. Both print the same words in the
 * same order -- usage lines, paragraphs, definition lists, options -- so
 * the page cannot drift from --help (tests/bb/packaging.test.mjs renders
 * the page with groff and compares). The man page adds only its own
 * furniture: NAME, the section headings and SEE ALSO.
 */
#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"

/* Terminal layout: text up to column 79; list terms indented 2, their text
 * at column 24 (or on the next line when the term is longer). */
#define WIDTH 79
#define TERM_INDENT 2
#define TEXT_COL 24

#define HELP_HINT "Run 'flyteauth <command> --help' for a command's options."

static bool is_help_opt(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* -h, --help: every command takes it; the renderers add it to each list. */
static const struct fa_cli_opt help_opt = {
	"-h", "--help", NULL, FA_CLI_COMPLETE_NONE, NULL, "show this help",
};

void fa_cli_usage_format(const struct fa_cli_cmd *cmd, char buf[FA_CLI_USAGE_MAX])
{
	size_t n = 0;
	int w;

	w = snprintf(buf, FA_CLI_USAGE_MAX, "flyteauth %s", cmd->name);
	n = w > 0 ? (size_t)w : 0;
	for (const struct fa_cli_opt *o = cmd->opts; o->longname != NULL && n < FA_CLI_USAGE_MAX;
	     o++) {
		/* "[-p DIR]" but "[--force]": a flag reads better spelled out. */
		w = snprintf(buf + n, FA_CLI_USAGE_MAX - n, " [%s%s%s]",
			     o->shortname && o->arg ? o->shortname : o->longname,
			     o->arg ? " " : "", o->arg ? o->arg : "");
		n += w > 0 ? (size_t)w : 0;
	}
	if (cmd->operands != NULL && n < FA_CLI_USAGE_MAX) {
		w = snprintf(buf + n, FA_CLI_USAGE_MAX - n, " %s", cmd->operands);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n >= FA_CLI_USAGE_MAX)
		memcpy(buf + FA_CLI_USAGE_MAX - 4, "...", 4);
}

/* "-p, --localPath DIR" */
static void opt_term(const struct fa_cli_opt *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s%s", o->shortname ? o->shortname : "",
		 o->shortname ? ", " : "", o->longname, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* ---- text ---------------------------------------------------------------------- */

/* Prints `text` word by word from column `col`, wrapping at WIDTH to
 * column `indent`; ends the line. */
static void wrap(FILE *fp, const char *text, size_t col, size_t indent)
{
	const char *p = text;
	bool first = true;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n > 0) {
			if (!first && col + 1 + n > WIDTH) {
				fprintf(fp, "\n%*s", (int)indent, "");
				col = indent;
			} else if (!first) {
				fputc(' ', fp);
				col++;
			}
			fwrite(p, 1, n, fp);
			col += n;
			first = false;
		}
		p += n;
		p += strspn(p, " ");
	}
	fputc('\n', fp);
}

static void text_item(FILE *fp, const char *term, const char *text)
{
	size_t tl = strlen(term);

	fprintf(fp, "%*s%s", TERM_INDENT, "", term);
	if (TERM_INDENT + tl + 2 <= TEXT_COL) {
		fprintf(fp, "%*s", (int)(TEXT_COL - TERM_INDENT - tl), "");
	} else {
		fprintf(fp, "\n%*s", TEXT_COL, "");
	}
	wrap(fp, text, TEXT_COL, TEXT_COL);
}

/* Paragraphs are separated by a blank line; a definition list is one block. */
static void text_blocks(FILE *fp, const struct fa_cli_text *t)
{
	for (size_t i = 0; t[i].text != NULL; i++) {
		if (i > 0 && (t[i].term == NULL || t[i - 1].term == NULL))
			fputc('\n', fp);
		if (t[i].term == NULL)
			wrap(fp, t[i].text, 0, 0);
		else
			text_item(fp, t[i].term, t[i].text);
	}
}

static void text_command(FILE *fp, const struct fa_cli_cmd *cmd)
{
	char usage[FA_CLI_USAGE_MAX], term[128];

	fa_cli_usage_format(cmd, usage);
	fputs("usage: ", fp);
	wrap(fp, usage, 7, 7);
	fputc('\n', fp);
	text_blocks(fp, cmd->text);
	fputc('\n', fp);
	for (const struct fa_cli_opt *o = cmd->opts; o->longname != NULL; o++) {
		opt_term(o, term, sizeof(term));
		text_item(fp, term, o->help);
	}
	opt_term(&help_opt, term, sizeof(term));
	text_item(fp, term, help_opt.help);
}

static void text_commands(FILE *fp, const struct fa_cli_manual *m)
{
	for (size_t i = 0; i < m->n_cmds; i++)
		text_item(fp, m->cmds[i].name, m->cmds[i].summary);
}

void fa_cli_help_top(FILE *fp)
{
	const struct fa_cli_manual *m = fa_cli_manual_get();

	fprintf(fp, "usage: flyteauth [--version] [--help] <command> [<args>]\n\ncommands:\n");
	text_commands(fp, m);
	fprintf(fp, "\n%s\n", HELP_HINT);
}

static void text_top(FILE *fp)
{
	const struct fa_cli_manual *m = fa_cli_manual_get();

	fprintf(fp, "usage: flyteauth [--version] [--help] <command> [<args>]\n\n");
	text_blocks(fp, m->description);
	fprintf(fp, "\ncommands:\n");
	text_commands(fp, m);
	for (size_t i = 0; i < m->n_sections; i++) {
		fprintf(fp, "\n%s:\n", m->sections[i].title);
		text_blocks(fp, m->sections[i].text);
	}
	fprintf(fp, "\n%s\n", HELP_HINT);
}

/* The first word of a command name: "secrets" of "secrets init". */
static bool in_group(const struct fa_cli_cmd *cmd, const char *group)
{
	size_t n = strlen(group);

	return strncmp(cmd->name, group, n) == 0 && cmd->name[n] == ' ';
}

int fa_cli_help(const char *name)
{
	const struct fa_cli_manual *m = fa_cli_manual_get();
	const struct fa_cli_cmd *cmd;
	bool any = false;

	if (name == NULL) {
		text_top(stdout);
		return FA_EXIT_OK;
	}
	cmd = fa_cli_cmd_get(name);
	if (cmd != NULL) {
		text_command(stdout, cmd);
		return FA_EXIT_OK;
	}
	for (size_t i = 0; i < m->n_cmds; i++) {
		if (!in_group(&m->cmds[i], name))
			continue;
		if (any)
			fputc('\n', stdout);
		text_command(stdout, &m->cmds[i]);
		any = true;
	}
	if (!any) {
		fprintf(stderr, "flyteauth: no help for '%s'\n", name);
		return FA_EXIT_USAGE;
	}
	return FA_EXIT_OK;
}

int fa_cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("flyteauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return FA_EXIT_FAIL;
}

int fa_cli_usage_error(const char *usage_line, const char *fmt, ...)
{
	va_list ap;

	fputs("flyteauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage_line);
	return FA_EXIT_USAGE;
}

int fa_cli_usage_fail(const char *name, const char *fmt, ...)
{
	const struct fa_cli_manual *m = fa_cli_manual_get();
	const struct fa_cli_cmd *cmd = fa_cli_cmd_get(name);
	char usage[FA_CLI_USAGE_MAX], msg[256];
	bool any = false;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cmd != NULL) {
		fa_cli_usage_format(cmd, usage);
		return fa_cli_usage_error(usage, "%s", msg);
	}
	/* A group ("secrets"): the usage of each of its commands. */
	fprintf(stderr, "flyteauth: %s\n", msg);
	for (size_t i = 0; i < m->n_cmds; i++) {
		if (!in_group(&m->cmds[i], name))
			continue;
		fa_cli_usage_format(&m->cmds[i], usage);
		fprintf(stderr, "%s %s\n", any ? "      " : "usage:", usage);
		any = true;
	}
	if (!any)
		fprintf(stderr, "usage: flyteauth %s\n", name);
	return FA_EXIT_USAGE;
}

/* ---- roff ------------------------------------------------------------------------ */

/* Writes text for roff's fill mode: backslashes and hyphen-minus escaped
 * (options must stay copy-pasteable ASCII), quotes as the ASCII glyphs
 * (groff would otherwise print typographic quotes), and a control
 * character at the start of a line defused with \&. */
static void roff_str(FILE *fp, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\': fputs("\\e", fp); break;
		case '-': fputs("\\-", fp); break;
		case '\'': fputs("\\(aq", fp); break;
		case '`': fputs("\\(ga", fp); break;
		case '"': fputs("\\(dq", fp); break;
		case '~': fputs("\\(ti", fp); break;
		case '^': fputs("\\(ha", fp); break;
		default: fputc(*s, fp); break;
		}
	}
}

static void roff_item(FILE *fp, const char *term, const char *text, bool bold)
{
	fputs(".TP\n", fp);
	if (bold)
		fputs("\\fB", fp);
	roff_str(fp, term);
	fputs(bold ? "\\fR\n" : "\n", fp);
	roff_str(fp, text);
	fputc('\n', fp);
}

static void roff_blocks(FILE *fp, const struct fa_cli_text *t)
{
	for (size_t i = 0; t[i].text != NULL; i++) {
		if (t[i].term != NULL) {
			roff_item(fp, t[i].term, t[i].text, true);
			continue;
		}
		fputs(".PP\n", fp);
		roff_str(fp, t[i].text);
		fputc('\n', fp);
	}
}

static void roff_upper(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, fp);
}

static void roff_page(FILE *fp)
{
	const struct fa_cli_manual *m = fa_cli_manual_get();
	char usage[FA_CLI_USAGE_MAX], term[128];

	fputs(".\\\" flyteauth(1), generated by `flyteauth man` from the same table as --help.\n"
	      ".TH FLYTEAUTH 1 \"\" \"flyteauth " FA_VERSION "\" \"User Commands\"\n"
	      ".\\\" No hyphenation or justification: the words stay as --help prints them.\n"
	      ".nh\n.ad l\n", fp);
	fputs(".SH NAME\nflyteauth \\- ", fp);
	roff_str(fp, m->tagline);
	fputs("\n.SH SYNOPSIS\n", fp);
	fputs("flyteauth [\\-\\-version] [\\-\\-help] <command> [<args>]\n", fp);
	for (size_t i = 0; i < m->n_cmds; i++) {
		fa_cli_usage_format(&m->cmds[i], usage);
		fputs(".br\n", fp);
		roff_str(fp, usage);
		fputc('\n', fp);
	}
	fputs(".SH DESCRIPTION\n", fp);
	roff_blocks(fp, m->description);
	fputs(".SH COMMANDS\n", fp);
	for (size_t i = 0; i < m->n_cmds; i++)
		roff_item(fp, m->cmds[i].name, m->cmds[i].summary, true);
	fputs(".PP\n", fp);
	roff_str(fp, HELP_HINT);
	fputc('\n', fp);
	for (size_t i = 0; i < m->n_cmds; i++) {
		const struct fa_cli_cmd *cmd = &m->cmds[i];

		fa_cli_usage_format(cmd, usage);
		fputs(".SS\n", fp);
		roff_str(fp, usage);
		fputc('\n', fp);
		roff_blocks(fp, cmd->text);
		for (const struct fa_cli_opt *o = cmd->opts; o->longname != NULL; o++) {
			opt_term(o, term, sizeof(term));
			roff_item(fp, term, o->help, true);
		}
		opt_term(&help_opt, term, sizeof(term));
		roff_item(fp, term, help_opt.help, true);
	}
	for (size_t i = 0; i < m->n_sections; i++) {
		fputs(".SH ", fp);
		roff_upper(fp, m->sections[i].title);
		fputc('\n', fp);
		roff_blocks(fp, m->sections[i].text);
	}
	fputs(".SH SEE ALSO\nflytectl(1), systemd.exec(5)\n", fp);
}

int fa_cli_man(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (is_help_opt(argv[i]))
			return fa_cli_help("man");
		return fa_cli_usage_fail("man", "unknown argument '%s'", argv[i]);
	}
	roff_page(stdout);
	if (fflush(stdout) != 0)
		return fa_cli_fail("cannot write the manual page");
	return FA_EXIT_OK;
}

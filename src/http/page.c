/* page.c -- the one HTML page shell: the head, the shared style sheet and
 * the frame of every page flyteauth serves to a browser. Pages differ only
 * in their content and a few style rules of their own; what a page must
 * never carry (scripts, framing) is refused by the HTML response headers
 * set in response.c, not here.
 */
#include "http/http_int.h"

static const char shared_style[] =
	"body{font-family:system-ui,sans-serif;background:#f4f4f8;margin:0}"
	"main{max-width:26rem;margin:12vh auto;background:#fff;padding:2rem;"
	"border-radius:8px;box-shadow:0 1px 4px #0002}"
	"label{display:block;margin:1rem 0 .25rem}"
	"input{width:100%;box-sizing:border-box;padding:.5rem}"
	"button{margin-top:1.5rem;padding:.6rem}.error{color:#b00020}";

enum fa_rc fa_http_page_begin(struct fa_buf *b, const char *title, const char *heading,
			      const char *style)
{
	return fa_buf_appendf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			      "<meta name=\"viewport\" content=\"width=device-width, "
			      "initial-scale=1\"><title>%s - Flyte</title><style>%s%s</style>"
			      "</head>\n<body><main><h1>%s</h1>\n", title, shared_style,
			      style ? style : "", heading);
}

enum fa_rc fa_http_page_end(struct fa_buf *b)
{
	return fa_buf_appends(b, "</main></body></html>\n");
}

enum fa_rc fa_resp_page(struct fa_resp *resp, int status, const struct fa_buf *b,
			struct fa_err *err)
{
	return fa_resp_body(resp, status, "text/html; charset=utf-8", fa_buf_str(b), b->len, err);
}

/* home.c -- the landing page at `/`: who is signed in in this browser (or
 * a link to sign in), and links to the device page and to sign out.
 *
 * It is where a browser lands after a login with no other target on the
 * development server (whose userAuth.redirectUrl is "/", there being no
 * console), and what an operator sees opening the server's URL. Plain HTML
 * in the shared page shell, no script; every value from the session is
 * escaped. The page itself changes nothing.
 */
#include "identity/identity_int.h"

static const char home_style[] = "li{margin:.5rem 0}.who{font-weight:600}";

/* The signed-in user's line: name (else subject), then the email. */
static enum fa_rc signed_in(struct fa_buf *b, json_t *user)
{
	const char *sub = json_string_value(json_object_get(user, "sub"));
	const char *name = json_string_value(json_object_get(user, "name"));
	const char *email = json_string_value(json_object_get(user, "email"));
	enum fa_rc rc = fa_buf_appends(b, "<p>Signed in as <span class=\"who\">");

	if (rc == FA_OK)
		rc = fa_buf_append_html(b, name && *name ? name : sub ? sub : "");
	if (rc == FA_OK && email && *email) {
		rc = fa_buf_appends(b, "</span> (");
		if (rc == FA_OK)
			rc = fa_buf_append_html(b, email);
		if (rc == FA_OK)
			rc = fa_buf_appends(b, ")</p>\n");
	} else if (rc == FA_OK) {
		rc = fa_buf_appends(b, "</span></p>\n");
	}
	if (rc == FA_OK)
		rc = fa_buf_appends(b, "<ul><li><a href=\"/device\">Approve a device</a> (a code "
				    "shown by <code>flytectl</code> or <code>flyteauth login</code>)"
				    "</li>\n<li><a href=\"/logout\">Sign out</a></li></ul>\n");
	return rc;
}

static enum fa_rc signed_out(struct fa_buf *b)
{
	return fa_buf_appends(b, "<p>You are not signed in.</p>\n"
			      "<ul><li><a href=\"/login?redirect_url=%2F\">Sign in</a></li>\n"
			      "<li><a href=\"/device\">Approve a device</a> (you sign in first)"
			      "</li></ul>\n");
}

void fa_identity_home(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	json_t *user = NULL;
	struct fa_buf page;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	fa_buf_init(&page, FA_MAX_RESPONSE);
	rc = fa_identity_session_user(id, req, &user, &e);
	if (rc != FA_OK && rc != FA_ENOTFOUND) {
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	rc = fa_http_page_begin(&page, "Flyte", "Flyte", home_style);
	if (rc == FA_OK)
		rc = user ? signed_in(&page, user) : signed_out(&page);
	if (rc == FA_OK)
		rc = fa_http_page_end(&page);
	if (rc != FA_OK) {
		e.rc = FA_ENOMEM;
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	if (fa_resp_header(resp, "Content-Security-Policy", fa_identity_page_csp, &e) != FA_OK ||
	    fa_resp_page(resp, 200, &page, &e) != FA_OK)
		fa_identity_fail500(id, resp, &e);
out:
	json_decref(user);
	fa_buf_cleanup(&page);
}

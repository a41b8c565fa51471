/* request.c -- what a handler may read from a request.
 *
 * Everything was parsed and bounded by the dispatcher before the handler
 * runs, so these are lookups only: they cannot fail and never allocate.
 * Memory belongs to the request arena.
 */
#include <strings.h>

#include "http/http_int.h"

const char *fa_req_method(const struct fa_req *req)
{
	return req->method ? req->method : "-";
}

const char *fa_req_path(const struct fa_req *req)
{
	return req->path ? req->path : "";
}

const char *fa_req_query(const struct fa_req *req, const char *name)
{
	return fa_http_kvs_get(&req->params, name);
}

const char *fa_req_form(const struct fa_req *req, const char *name)
{
	return fa_http_kvs_get(&req->form, name);
}

const char *fa_req_header(const struct fa_req *req, const char *name)
{
	for (size_t i = 0; i < req->headers.n; i++)
		if (strcasecmp(req->headers.v[i].name, name) == 0)
			return req->headers.v[i].value;
	return NULL;
}

const char *fa_req_cookie(const struct fa_req *req, const char *name)
{
	return fa_http_kvs_get(&req->cookies, name);
}

const char *fa_req_client_addr(const struct fa_req *req)
{
	return req->client_addr[0] ? req->client_addr : "-";
}

const char *fa_req_id(const struct fa_req *req)
{
	return req->id[0] ? req->id : "-";
}

bool fa_req_is_https(const struct fa_req *req)
{
	return req->https;
}

bool fa_req_forwarded_trusted(const struct fa_req *req)
{
	return req->fwd_trusted;
}

struct fa_arena *fa_req_arena(struct fa_req *req)
{
	return req->arena;
}

const char *fa_req_body(const struct fa_req *req, size_t *len)
{
	if (len)
		*len = req->body_len;
	return req->body ? req->body : "";
}

void fa_req_set_principal(struct fa_req *req, void *principal)
{
	req->principal = principal;
}

void *fa_req_principal(const struct fa_req *req)
{
	return req->principal;
}

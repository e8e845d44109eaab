/*
 * OAuth 2.0 client-credentials tokens from the Microsoft identity platform,
 * with Wazuh's messages for the usual mistakes.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <jansson.h>

#include "auth.h"
#include "fetch.h"
#include "log.h"

static int
has_error_code(json_t *codes, json_int_t want)
{
	json_t *c;
	size_t i;

	json_array_foreach(codes, i,
			   c) if (json_is_integer(c) &&
				  json_integer_value(c) == want) return 1;
	return 0;
}

/*
 * Turn an error response of the token endpoint into Wazuh's message (keyed
 * on error_codes, falling back on the error name). Returns msg.
 */
const char *
token_error_message(long status, const char *body, const char *tenant,
		    char *msg, size_t msglen)
{
	json_t *j = json_loads(body, 0, NULL), *codes;
	const char *err = "";

	if (j != NULL && json_is_string(json_object_get(j, "error")))
		err = json_string_value(json_object_get(j, "error"));
	codes = j ? json_object_get(j, "error_codes") : NULL;
	if (has_error_code(codes, 700016) ||
	    strcmp(err, "unauthorized_client") == 0)
		strlcpy(msg, "The application id provided is not valid.",
			msglen);
	else if (has_error_code(codes, 7000215) ||
		 strcmp(err, "invalid_client") == 0)
		strlcpy(msg, "The application key provided is not valid.",
			msglen);
	else if (has_error_code(codes, 90002) ||
		 strcmp(err, "invalid_tenant") == 0)
		snprintf(msg, msglen, "The \"%s\" tenant domain was not found.",
			 tenant);
	else
		snprintf(msg, msglen,
			 "Couldn't get the token for "
			 "authentication (HTTP %ld%s%s).",
			 status, *err ? ", " : "", err);
	json_decref(j);
	return msg;
}

/* jansson's free while a token is parsed: nothing of it stays in memory. */
static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static int
form_add(struct buf *b, CURL *c, const char *name, const char *value)
{
	char *e = curl_easy_escape(c, value, 0);
	int rc;

	if (e == NULL)
		fatalx("curl_easy_escape");
	rc = buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, e);
	explicit_bzero(e, strlen(e));
	curl_free(e);
	return rc;
}

/*
 * Get a token. On success *token is set (free it with secret_free) and 0 is
 * returned; otherwise Wazuh's message goes to err and -1 is returned.
 */
int
token_get(struct http *h, const struct token_req *tr, char **token, char *err,
	  size_t errlen)
{
	struct http_resp r = {0};
	struct buf form, url;
	json_t *j = NULL, *t;
	char msg[512];
	int rc = -1;

	*token = NULL;
	buf_init(&form, 65536);
	buf_init(&url, 8192);
	if (form_add(&form, h->curl, "client_id", tr->client_id) == -1 ||
	    form_add(&form, h->curl, "scope", tr->scope) == -1 ||
	    form_add(&form, h->curl, "client_secret", tr->secret) == -1 ||
	    form_add(&form, h->curl, "grant_type", "client_credentials") ==
		-1 ||
	    buf_printf(&url, "%s/%s/oauth2/v2.0/token", tr->login_url,
		       tr->tenant) == -1) {
		snprintf(err, errlen, "Error: credentials too long");
		goto out;
	}
	http_request_retry(h, url.data, form.data, form.len, HTTP_FORM, &r);
	if (r.status == 0) {
		snprintf(err, errlen,
			 "Error: An error occurred while trying "
			 "to obtain the authentication token: %s",
			 r.curl_err);
		goto out;
	}
	if (r.status != 200) {
		snprintf(err, errlen, "Error: %s",
			 token_error_message(r.status, buf_cstr(&r.body),
					     tr->tenant, msg, sizeof(msg)));
		goto out;
	}
	json_set_alloc_funcs(malloc, wiping_free);
	j = json_loadb(r.body.data, r.body.len, 0, NULL);
	t = j ? json_object_get(j, "access_token") : NULL;
	if (!json_is_string(t) || json_string_length(t) == 0) {
		snprintf(err, errlen,
			 "Error: Couldn't get the token for "
			 "authentication (the answer holds no access_token).");
		goto out;
	}
	*token = xstrdup(json_string_value(t));
	rc = 0;
out:
	json_decref(j);
	json_set_alloc_funcs(malloc, free);
	if (r.body.data)
		explicit_bzero(r.body.data, r.body.cap);
	http_resp_free(&r);
	explicit_bzero(form.data, form.cap);
	buf_free(&form);
	buf_free(&url);
	return rc;
}

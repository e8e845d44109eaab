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
#include "date.h"
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
token_error_message(long status, const char *body, const char *tenant, int kind,
		    char *msg, size_t msglen)
{
	json_t *j = json_loads(body, 0, NULL), *codes;
	const char *err = "", *desc;

	if (j != NULL && json_is_string(json_object_get(j, "error")))
		err = json_string_value(json_object_get(j, "error"));
	codes = j ? json_object_get(j, "error_codes") : NULL;
	desc = json_string_value(json_object_get(j, "error_description"));
	if (kind == AUTH_CERT && strcmp(err, "invalid_client") == 0)
		/* AADSTS700027: Client assertion failed signature
		 * validation; AADSTS700024: not within its valid time
		 * range; AADSTS700027 also: the certificate is unknown */
		snprintf(msg, msglen,
			 "The certificate credential was refused: %.*s",
			 desc ? (int)strcspn(desc, "\r\n") : 14,
			 desc ? desc : "invalid_client");
	else if (has_error_code(codes, 700016) ||
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
 * The message for a failed answer of the instance metadata service:
 * {"error": "invalid_request", "error_description": "Identity not found"}.
 */
const char *
identity_error_message(long status, const char *body, char *msg, size_t msglen)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	const char *d =
	    json_string_value(json_object_get(j, "error_description"));

	if (status == 404 || status == 0)
		strlcpy(msg,
			"no managed identity endpoint: is this an Azure VM "
			"with an identity?",
			msglen);
	else if (status == 400 && d != NULL && strcasestr(d, "identity"))
		snprintf(msg, msglen,
			 "The managed identity was not found (HTTP 400: %s): "
			 "assign an identity to the VM, or give the client id "
			 "of a user-assigned one as application_id.",
			 d);
	else
		snprintf(msg, msglen,
			 "Couldn't get the token of the managed identity (HTTP "
			 "%ld%s%s%s%s).",
			 status, e ? ", " : "", e ? e : "", d ? ": " : "",
			 d ? d : "");
	json_decref(j);
	return msg;
}

/*
 * The request of one attempt: a form for the identity platform (a client
 * secret, or a new client assertion for a certificate), or the URL of the
 * instance metadata service. Returns 0, or -1 with a message.
 */
static int
token_build(struct http *h, const struct token_req *tr, struct buf *url,
	    struct buf *form, char *err, size_t errlen)
{
	struct buf jwt;
	char *e;
	int rc;

	buf_reset(url);
	buf_reset(form);
	if (tr->kind == AUTH_IDENTITY) {
		e = curl_easy_escape(h->curl, tr->resource, 0);
		rc = buf_printf(url, "%s%capi-version=2018-02-01&resource=%s",
				tr->identity_url,
				strchr(tr->identity_url, '?') ? '&' : '?', e);
		curl_free(e);
		if (rc == 0 && tr->client_id != NULL) {
			e = curl_easy_escape(h->curl, tr->client_id, 0);
			rc = buf_printf(url, "&client_id=%s", e);
			curl_free(e);
		}
		if (rc == -1)
			snprintf(err, errlen, "Error: --identity-url too long");
		return rc;
	}
	if (buf_printf(url, "%s/%s/oauth2/v2.0/token", tr->login_url,
		       tr->tenant) == -1 ||
	    form_add(form, h->curl, "client_id", tr->client_id) == -1 ||
	    form_add(form, h->curl, "scope", tr->scope) == -1) {
		snprintf(err, errlen, "Error: credentials too long");
		return -1;
	}
	if (tr->kind == AUTH_CERT) {
		buf_init(&jwt, 65536);
		rc = assertion_make(tr->cred, tr->client_id, url->data,
				    date_now() / DATE_TICKS_PER_SEC, &jwt, err,
				    errlen);
		if (rc == 0 &&
		    (form_add(form, h->curl, "client_assertion_type",
			      "urn:ietf:params:oauth:client-assertion-type:"
			      "jwt-bearer") == -1 ||
		     form_add(form, h->curl, "client_assertion", jwt.data) ==
			 -1)) {
			snprintf(err, errlen, "Error: credentials too long");
			rc = -1;
		}
		if (jwt.data != NULL)
			explicit_bzero(jwt.data, jwt.cap);
		buf_free(&jwt);
		if (rc == -1)
			return -1;
	} else if (form_add(form, h->curl, "client_secret", tr->secret) == -1) {
		snprintf(err, errlen, "Error: credentials too long");
		return -1;
	}
	if (form_add(form, h->curl, "grant_type", "client_credentials") == -1) {
		snprintf(err, errlen, "Error: credentials too long");
		return -1;
	}
	return 0;
}

/*
 * Get a token. On success *token is set (free it with secret_free) and 0 is
 * returned; otherwise Wazuh's message goes to err and -1 is returned. Each
 * attempt is built anew: a client assertion is never sent twice.
 */
int
token_get(struct http *h, const struct token_req *tr, char **token, char *err,
	  size_t errlen)
{
	struct http_resp r = {0};
	struct buf form, url;
	json_t *j = NULL, *t;
	char msg[512];
	int rc = -1, attempt, saved = h->max_attempts, max = saved, ok;
	int identity = tr->kind == AUTH_IDENTITY;
	double wait;

	*token = NULL;
	buf_init(&form, 65536);
	buf_init(&url, 8192);
	if (identity && max > 3) /* not an Azure VM: say so soon */
		max = 3;
	h->max_attempts = 1;
	for (attempt = 1;; attempt++) {
		if (token_build(h, tr, &url, &form, err, errlen) == -1)
			goto out;
		ok = http_request_retry(
			 h, url.data, identity ? NULL : form.data, form.len,
			 identity ? HTTP_METADATA : HTTP_FORM, &r) == 0;
		if (form.data != NULL)
			explicit_bzero(form.data, form.cap);
		if (attempt >= max || r.expired ||
		    (ok && r.status != 429 && r.status < 500 &&
		     !(identity && r.status == 404)))
			break;
		wait = http_retry_wait(&r, attempt);
		if (ok)
			log_warnx("%s: token request: HTTP %ld, retrying in "
				  "%.1f s (attempt %d of %d)",
				  h->service, r.status, wait, attempt + 1, max);
		else
			log_warnx("%s: token request failed (%s), retrying in "
				  "%.1f s (attempt %d of %d)",
				  h->service, r.curl_err, wait, attempt + 1,
				  max);
		h->retries++; /* for the run's summary, as http.c counts */
		sleep_seconds(wait);
	}
	if (identity && r.status != 200) {
		snprintf(err, errlen, "Error: %s%s%s%s",
			 identity_error_message(r.status, buf_cstr(&r.body),
						msg, sizeof(msg)),
			 r.status == 0 ? " (" : "",
			 r.status == 0 ? r.curl_err : "",
			 r.status == 0 ? ")" : "");
		goto out;
	}
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
					     tr->tenant, tr->kind, msg,
					     sizeof(msg)));
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
	h->max_attempts = saved;
	json_decref(j);
	json_set_alloc_funcs(malloc, free);
	if (r.body.data)
		explicit_bzero(r.body.data, r.body.cap);
	http_resp_free(&r);
	if (form.data != NULL)
		explicit_bzero(form.data, form.cap);
	buf_free(&form);
	buf_free(&url);
	return rc;
}

/*
 * Private header of the fetchers: HTTP with libcurl, tokens, Graph queries.
 */
#ifndef AZURE_FETCH_H
#define AZURE_FETCH_H

#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"

#define HTTP_BODY_MAX (64u * 1024 * 1024) /* a page of any service */

struct http {
	CURL *curl;
	struct curl_slist *auth; /* "Authorization: Bearer ..." (secret) */
	const char *service;	 /* for messages: "Graph" */
	int max_attempts;	 /* per request, for 429/5xx/transport errors */
	long timeout;		 /* seconds per request */
};

struct http_resp {
	long status;
	struct buf body;
	double retry_after; /* seconds; < 0 when the header was absent */
	char curl_err[CURL_ERROR_SIZE];
};

void http_init(struct http *, const char *service);
void http_free(struct http *);
void http_set_bearer(struct http *, const char *token);
int http_request(struct http *, const char *url, const char *form,
		 size_t formlen, struct http_resp *);
int http_request_retry(struct http *, const char *url, struct http_resp *);
void http_resp_free(struct http_resp *);
char *url_encode_path(const char *);
double http_parse_retry_after(const char *, int64_t now);

/* token.c */
struct token_req {
	const char *login_url; /* e.g. https://login.microsoftonline.com */
	const char *tenant;
	const char *client_id;
	const char *secret;
	const char *scope;
};
int token_get(struct http *, const struct token_req *, char **token, char *err,
	      size_t errlen);
const char *token_error_message(long status, const char *body,
				const char *tenant, char *msg, size_t msglen);

/* graph_filter.c */
struct window {
	int64_t min, max;    /* checkpoint, parsed */
	const char *min_str; /* raw strings as stored */
	const char *max_str;
	int64_t offset_secs; /* -1: no offset */
	int reparse;
	int64_t now;
};
const char *graph_filter_field(const char *query);
int graph_build_filter(const char *field, const struct window *,
		       struct buf *out);
int graph_build_url(const char *base, const char *query, const char *filter,
		    struct buf *out);

#endif

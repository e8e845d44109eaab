/*
 * HTTP for the fetchers: one libcurl handle per process (connections are
 * reused), bounded bodies, and the retry policy for throttling and
 * transient failures.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "date.h"
#include "fetch.h"
#include "log.h"

#define RETRY_AFTER_MAX 300.0 /* never sleep longer than this at once */

void
http_init(struct http *h, const char *service)
{
	memset(h, 0, sizeof(*h));
	if ((h->curl = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	h->service = service;
	h->max_attempts = 5;
	h->timeout = 60;
}

static void
http_wipe_auth(struct http *h)
{
	struct curl_slist *s;

	for (s = h->auth; s != NULL; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(h->auth);
	h->auth = NULL;
}

void
http_free(struct http *h)
{
	http_wipe_auth(h);
	if (h->curl)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

/* Use this bearer token from now on (the old one is wiped). */
void
http_set_bearer(struct http *h, const char *token)
{
	struct buf b;

	http_wipe_auth(h);
	buf_init(&b, 65536);
	if (buf_printf(&b, "Authorization: Bearer %s", token) == -1)
		fatalx("token too long");
	if ((h->auth = curl_slist_append(NULL, buf_cstr(&b))) == NULL)
		fatalx("curl_slist_append");
	explicit_bzero(b.data, b.cap);
	buf_free(&b);
}

void
http_resp_free(struct http_resp *r)
{
	buf_free(&r->body);
}

static size_t
http_body_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *r = arg;

	if (buf_append(&r->body, p, size * n) == -1)
		return 0; /* aborts the transfer: body over its maximum */
	return size * n;
}

/* A 200/206 body goes to h->sink, any other to r->body. */
static size_t
http_sink_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *r = arg;
	struct http *h = r->h;
	long status = 0;

	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 || status == 206) {
		if (h->sink(h->sink_arg, p, size * n) == -1) {
			r->sink_failed = 1;
			return 0;
		}
		r->sunk += (int64_t)(size * n);
		return size * n;
	}
	return http_body_cb(p, size, n, arg);
}

/*
 * Retry-After is delay-seconds or an HTTP-date. Returns seconds to wait
 * (0 for a date in the past), or -1 if unusable.
 */
double
http_parse_retry_after(const char *v, int64_t now)
{
	struct tm tm;
	char *end;
	double secs;
	time_t t;

	while (isspace((unsigned char)*v))
		v++;
	if (isdigit((unsigned char)*v)) {
		secs = strtod(v, &end);
		while (isspace((unsigned char)*end))
			end++;
		return *end == '\0' ? secs : -1;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	t = timegm(&tm);
	secs = (double)t - (double)now / (double)DATE_TICKS_PER_SEC;
	return secs > 0 ? secs : 0;
}

static size_t
http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *r = arg;
	size_t len = size * n;
	char v[128];

	if (len > 12 && len < 12 + sizeof(v) &&
	    strncasecmp(p, "retry-after:", 12) == 0) {
		memcpy(v, p + 12, len - 12);
		v[len - 12] = '\0';
		v[strcspn(v, "\r\n")] = '\0';
		r->retry_after = http_parse_retry_after(v, date_now());
	}
	return len;
}

/* The headers of an API request: the bearer token, and for a JSON body its
 * Content-Type and the Prefer header. Free with http_free_headers(), which
 * wipes the token's copy. */
static struct curl_slist *
http_api_headers(struct http *h, int json)
{
	struct curl_slist *l = NULL, *s;
	char prefer[64];

	for (s = h->auth; s != NULL; s = s->next)
		l = curl_slist_append(l, s->data);
	if (json) {
		l = curl_slist_append(l, "Content-Type: application/json");
		if (h->prefer_wait > 0) {
			snprintf(prefer, sizeof(prefer), "Prefer: wait=%d",
				 h->prefer_wait);
			l = curl_slist_append(l, prefer);
		}
	}
	return l;
}

static void
http_free_headers(struct curl_slist *l)
{
	struct curl_slist *s;

	for (s = l; s != NULL; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(l);
}

/*
 * libcurl's messages name hosts, not URLs; should one quote a URL, a SAS
 * signature in it ("sig=...") is masked before anyone logs it, and so is
 * the password of any "scheme://user:password@" (a proxy's, which libcurl
 * quotes whole in "Unsupported proxy scheme for '...'"): it becomes "***".
 * The password runs to the last '@' before a space (it may hold '/').
 */
static void
http_redact(char *msg)
{
	char *p = msg, *end, *at, *colon;
	size_t n;

	while ((p = strstr(p, "sig=")) != NULL) {
		p += 4;
		n = strcspn(p, "& \t\r\n\"'");
		memset(p, '*', n);
		p += n;
	}
	for (p = msg; (p = strstr(p, "://")) != NULL;) {
		p += 3;
		end = p + strcspn(p, " \t\r\n");
		at = NULL;
		for (char *q = p; q < end; q++)
			if (*q == '@')
				at = q;
		if (at == NULL)
			continue;
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL)
			continue;
		/* ":password@" -> ":***@" (the message may only shrink or
		 * grow into its buffer's room: CURL_ERROR_SIZE) */
		if (colon + 4 >= msg + CURL_ERROR_SIZE) {
			colon[1] = '\0';
			break;
		}
		n = strlen(at) + 1;
		if (colon + 4 + n > msg + CURL_ERROR_SIZE)
			n = (size_t)(msg + CURL_ERROR_SIZE - (colon + 4));
		memmove(colon + 4, at, n);
		memcpy(colon + 1, "***", 3);
		msg[CURL_ERROR_SIZE - 1] = '\0';
		p = colon + 4;
	}
}

/*
 * One request. Without a body: GET with the bearer token. With a body:
 * POST; kind HTTP_FORM sends a form (the token request: no bearer), kind
 * HTTP_JSON a JSON document with the bearer token. Fills r (status 0 on a
 * transport error, message in r->curl_err). Returns 0 when a complete
 * response arrived, -1 otherwise.
 */
int
http_request(struct http *h, const char *url, const char *body, size_t bodylen,
	     int kind, struct http_resp *r)
{
	struct curl_slist *hdrs = NULL;
	CURL *c = h->curl;
	CURLcode rc;
	/* A token's answer (a form: a new token while a query's answer goes
	 * to the sink) is never the sink's. */
	int (*sink)(void *, const char *, size_t) =
	    kind == HTTP_FORM || kind == HTTP_METADATA ? NULL : h->sink;
	/* A body streamed to a sink (a blob of any size) may take as long as
	 * it keeps moving; anything else gets h->timeout in all. */
	long timeout = sink != NULL ? 0 : h->timeout;
	int64_t left;

	http_resp_free(r);
	buf_init(&r->body, HTTP_BODY_MAX);
	r->status = 0;
	r->too_big = 0;
	r->sink_failed = 0;
	r->sunk = 0;
	r->h = h;
	r->retry_after = -1;
	r->curl_err[0] = '\0';
	r->expired = 0;
	if (h->deadline != 0) { /* no request outlives the run's --timeout */
		left = (h->deadline - date_now()) / DATE_TICKS_PER_SEC;
		if (left <= 0) {
			r->expired = 1;
			strlcpy(r->curl_err,
				"the run's time limit (--timeout) was reached",
				sizeof(r->curl_err));
			return -1;
		}
		if (timeout == 0 || left < timeout)
			timeout = (long)left;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	/* Nothing received for h->timeout seconds: the transfer stalled. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->timeout);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT,
			 "azure-logs/" AZURE_LOGS_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION,
			 sink != NULL ? http_sink_cb : http_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	/* --proxy for every request; without it libcurl follows the
	 * https_proxy, http_proxy, all_proxy and no_proxy environment. The
	 * instance metadata service is link-local: never through a proxy. */
	if (kind == HTTP_METADATA)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	else if (h->proxy != NULL)
		curl_easy_setopt(c, CURLOPT_PROXY, h->proxy);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)bodylen);
	}
	if (kind == HTTP_RAW)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->raw);
	else if (kind == HTTP_METADATA) {
		hdrs = curl_slist_append(NULL, "Metadata: true");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	} else if (kind != HTTP_FORM) {
		hdrs = http_api_headers(h, kind == HTTP_JSON);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	rc = curl_easy_perform(c);
	h->bytes += (int64_t)r->body.len + r->sunk; /* for the run's summary */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	http_free_headers(hdrs);
	if (rc == CURLE_WRITE_ERROR && r->body.len >= HTTP_BODY_MAX - 65536) {
		r->too_big = 1;
		snprintf(r->curl_err, sizeof(r->curl_err),
			 "response body larger than %zu bytes", HTTP_BODY_MAX);
	} else if (rc != CURLE_OK && r->curl_err[0] == '\0')
		strlcpy(r->curl_err, curl_easy_strerror(rc),
			sizeof(r->curl_err));
	http_redact(r->curl_err);
	if (rc != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	return 0;
}

static int
http_retryable(const struct http_resp *r, int ok)
{
	if (!ok) /* timeouts, resets, truncated bodies: unless some of it
		    was already used */
		return !r->too_big && !r->sink_failed && !r->expired &&
		       r->sunk == 0;
	return r->status == 429 || r->status >= 500;
}

/* Capped exponential backoff with full jitter, in seconds. */
static double
http_backoff(int attempt)
{
	double cap = fmin(60.0, 1.0 * (1 << (attempt < 6 ? attempt : 6)));

	return cap / 2 + (double)arc4random_uniform(1000) / 1000.0 * cap / 2;
}

/* How long to wait before another attempt: Retry-After, or backoff. */
double
http_retry_wait(const struct http_resp *r, int attempt)
{
	return r->retry_after >= 0 ? fmin(r->retry_after, RETRY_AFTER_MAX)
				   : http_backoff(attempt);
}

void
sleep_seconds(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1)
		;
}

/*
 * A request (see http_request), retrying 429 and 5xx (honouring
 * Retry-After) and transport errors that used none of the body, up to
 * max_attempts. Returns 0 when a response arrived (any status: the caller
 * judges it), -1 on a transport failure after every attempt.
 */
int
http_request_retry(struct http *h, const char *url, const char *body,
		   size_t bodylen, int kind, struct http_resp *r)
{
	double wait;
	int attempt, ok;

	for (attempt = 1;; attempt++) {
		if (h->before != NULL && h->before(h->before_arg) == -1)
			fatalx("%s: cannot prepare a request", h->service);
		ok = http_request(h, url, body, bodylen, kind, r) == 0;
		if (!http_retryable(r, ok) || attempt >= h->max_attempts)
			break;
		wait = http_retry_wait(r, attempt);
		if (h->deadline != 0 &&
		    date_now() + (int64_t)(wait * DATE_TICKS_PER_SEC) >=
			h->deadline) {
			r->expired = 1;
			strlcpy(r->curl_err,
				"the run's time limit (--timeout) comes before "
				"the next attempt",
				sizeof(r->curl_err));
			ok = 0;
			break;
		}
		if (ok)
			log_warnx("%s: HTTP %ld, retrying in %.1f s (attempt "
				  "%d of %d)",
				  h->service, r->status, wait, attempt + 1,
				  h->max_attempts);
		else
			log_warnx("%s: request failed (%s), retrying in %.1f s "
				  "(attempt %d of %d)",
				  h->service, r->curl_err, wait, attempt + 1,
				  h->max_attempts);
		h->retries++; /* for the run's summary */
		sleep_seconds(wait);
	}
	return ok ? 0 : -1;
}

/*
 * Percent-encode what may not appear in a URL (spaces, controls, quotes,
 * non-ASCII and the like); everything else, including "?&=$/%", is kept as
 * the user wrote it. The caller frees the result.
 */
char *
url_encode_path(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	unsigned char c;
	char e[3];

	buf_init(&b, strlen(s) * 3 + 1);
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c <= ' ' || c >= 0x7f || strchr("\"<>\\^`{|}", c)) {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			buf_append(&b, e, 3);
		} else
			buf_append(&b, &c, 1);
	}
	return buf_cstr(&b);
}

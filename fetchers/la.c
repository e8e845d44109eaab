/*
 * azure-la: the Log Analytics fetcher. It asks the statekeeper for the
 * checkpoint of md5("query=<Q>|workspace=<W>"), sends Wazuh's KQL for the
 * window with POST, bounded by a timespan, and turns each row of
 * tables[0] into one event. A result the service truncated (a 200 carrying
 * PartialError) is never taken for complete: its window is split in two
 * and each half asked again, down to single 100 ns instants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "fetch.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"

static const char usage[] =
    "usage: azure-la --tenant DOMAIN --workspace ID --query KQL\n"
    "                (--auth-file PATH | --auth-fd N)\n"
    "                [--tag TAG] [--offset OFFSET] [--reparse] [--wait "
    "SECONDS]\n"
    "                [--login-url URL] [--la-url URL] [-d N]\n"
    "                [--la-checkpoint generated|ingestion]\n"
    "                [--overlap DURATION] [--lag DURATION] "
    "[--timeout DURATION]\n"
    "                [--since TIME [--until TIME] --json]\n"
    "                [--user NAME] [--no-sandbox] [--check]\n"
    "\n"
    "Runs KQL over a Log Analytics workspace and sends one event per row.\n"
    "Without --json it speaks frames with azure-statekeeper on fd 0/1 (see\n"
    "docs/internals.md); with --since TIME --json it prints one event per\n"
    "line and needs no other process. --wait sends \"Prefer: wait=N\".\n"
    "OFFSET is Wazuh's <N>m|h|d. The auth file holds application_id and\n"
    "application_key and must not be readable by group or others.\n"
    "The checkpoint follows TimeGenerated, or with --la-checkpoint\n"
    "ingestion the rows' ingestion_time(). Windows reach back --overlap\n"
    "(default 10m; 2m on ingestion) before it and end --lag (1m) before\n"
    "now. DURATION is N seconds or Ns, Nm, Nh, Nd. --timeout bounds the\n"
    "whole run.\n" FETCHER_USAGE_END;

struct la {
	struct fetcher *f;
	const char *url;   /* .../v1/workspaces/W/query */
	const char *base;  /* Wazuh's KQL for the window */
	const char *field; /* what the checkpoint follows: TimeGenerated or
			      ingestion_time() */
	int64_t rows, parts;
};

/*
 * Send one row; its time (raw string: TimeGenerated, or our ingestion time
 * column, which is not sent) moves the checkpoint. Its id is the md5 of
 * the row as the service sent it (raw, len), without our ingestion time
 * column (the last one: a date, so the last comma is before it): the same
 * row has the same id whatever the tag or the checkpoint mode.
 */
static int
emit_row(struct la *la, json_t *names, int time_col, const char *raw,
	 size_t len)
{
	struct fetcher *f = la->f;
	const char *time, *comma;
	char id[MD5_HEXLEN], jerr[JSON_ERROR_TEXT_LENGTH];
	struct buf cut;
	int rc;

	buf_reset(&f->body);
	rc = la_row_event(names, raw, len, f->o.tag,
			  f->o.la_ingestion ? time_col : -1, time_col, &f->body,
			  &time, jerr, sizeof(jerr));
	if (rc == -2) {
		log_errorx("Log Analytics: workspace %s: a row is not JSON: %s",
			   f->o.workspace, jerr);
		return -1;
	}
	if (rc == -1) {
		log_errorx("Log Analytics: workspace %s: a row has fewer cells "
			   "than the %zu columns, or is larger than %zu bytes",
			   f->o.workspace, json_array_size(names),
			   (size_t)EVENT_MAX);
		return -1;
	}
	if (f->o.la_ingestion &&
	    (size_t)time_col + 1 == json_array_size(names) &&
	    (comma = memrchr(raw, ',', len)) != NULL) {
		buf_init(&cut, (size_t)(comma - raw) + 2);
		buf_append(&cut, raw, (size_t)(comma - raw));
		buf_append(&cut, "]", 1);
		md5_hex(cut.data, cut.len, id);
		buf_free(&cut);
	} else
		md5_hex(raw, len, id);
	fetcher_emit(f, time, id);
	la->rows++;
	return 0;
}

/* Emit every row of a complete result. Returns 0 or -1. */
static int
emit_rows(struct la *la, const char *body, const struct la_scan *s)
{
	struct fetcher *f = la->f;
	const char *rows = body + s->rows_off, *errstr = NULL;
	json_t *cols, *names = NULL;
	json_error_t jerr;
	size_t pos = 0, off, len;
	int time_col, rc = -1, n;

	cols = json_loadb(body + s->columns_off, s->columns_len, 0, &jerr);
	if (cols == NULL || la_columns(cols, &names, &time_col,
				       f->o.la_ingestion ? LA_INGESTION_COLUMN
							 : "TimeGenerated",
				       &errstr)) {
		log_errorx("Log Analytics: workspace %s: bad columns: %s",
			   f->o.workspace, cols ? errstr : jerr.text);
		goto out;
	}
	if (time_col == -1 && f->o.la_ingestion) {
		log_errorx("Log Analytics: workspace %s: the query's rows have "
			   "no ingestion time (ingestion_time() is null after "
			   "summarize or join): use --la-checkpoint generated",
			   f->o.workspace);
		goto out;
	}
	if (time_col == -1) {
		log_errorx("Error: No TimeGenerated field was found (workspace "
			   "%s): the query must keep the TimeGenerated column",
			   f->o.workspace);
		goto out;
	}
	while ((n = la_next_row(rows, s->rows_len, &pos, &off, &len)) == 1) {
		n = emit_row(la, names, time_col, rows + off, len);
		if (n == -1)
			goto out;
	}
	if (n == -1) {
		log_errorx("Log Analytics: workspace %s: the rows array is "
			   "malformed",
			   f->o.workspace);
		goto out;
	}
	rc = 0;
out:
	json_decref(names);
	json_decref(cols);
	return rc;
}

static void
log_la_error(const struct la *la, struct http_resp *r)
{
	char msg[1024];

	if (la_partial_error(r->body.data, r->body.len, msg, sizeof(msg)) < 0)
		snprintf(msg, sizeof(msg), "%.200s",
			 r->body.len ? buf_cstr(&r->body) : "(empty body)");
	log_errorx("Error with Log Analytics request: workspace %s: HTTP %ld: "
		   "%s",
		   la->f->o.workspace, r->status, msg);
}

static int query_part(struct la *, int64_t, int64_t);

/*
 * The answer for [start, end) was truncated or too large (why): ask for
 * each half, oldest first. r is freed first, so memory stays bounded by
 * one answer. Returns as query_part() does.
 */
static int
split_part(struct la *la, struct http_resp *r, int64_t start, int64_t end,
	   const char *why)
{
	const char *ws = la->f->o.workspace;
	char span[2 * DATE_STRLEN], s[DATE_STRLEN], e[DATE_STRLEN];
	int64_t mid = start + (end - start) / 2;

	date_format_iso(start, s);
	date_format_iso(end, e);
	snprintf(span, sizeof(span), "%s/%s", s, e);
	if (end - start <= 1) {
		log_errorx(
		    "Log Analytics: workspace %s: the rows of the single "
		    "instant %s exceed the service's limits (%s); "
		    "narrow the query",
		    ws, span, why);
		return -1;
	}
	log_info("Log Analytics: workspace %s: result truncated (%s); "
		 "splitting %s in two",
		 ws, why, span);
	http_resp_free(r);
	return query_part(la, start, mid) == 0 && query_part(la, mid, end) == 0
		   ? 0
		   : -1;
}

/*
 * Ask for the rows of [start, end). A truncated answer splits the part in
 * two halves, oldest first. Returns 0 when every row of the part was
 * emitted, -1 otherwise (the run then ends without a checkpoint).
 */
static int
query_part(struct la *la, int64_t start, int64_t end)
{
	struct fetcher *f = la->f;
	struct http_resp r = {0};
	struct buf q, ts;
	struct la_scan s;
	const char *errstr = NULL;
	json_t *req;
	char *body = NULL, msg[1024];
	int rc = -1, partial, attempt = 0;

	buf_init(&q, 4 * 1024 * 1024);
	buf_init(&ts, 128);
	if (la_bound_query(la->base, la->field, start, end, &q) == -1 ||
	    la_timespan(start, end, &ts) == -1)
		fatalx("Log Analytics: query too long");
	/* The timespan bounds TimeGenerated: none when the window is on the
	 * ingestion time, or late rows would be cut off again. */
	req = f->o.la_ingestion ? json_pack("{s:s}", "query", q.data)
				: json_pack("{s:s, s:s}", "query", q.data,
					    "timespan", ts.data);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (body == NULL)
		fatalx("Log Analytics: the query is not valid UTF-8");
	la->parts++;
again:
	attempt++;
	log_info("Log Analytics: Sending a request to the Log Analytics API.");
	log_debug("Log Analytics: POST %s timespan %s query: %s", la->url,
		  ts.data, q.data);
	if (fetcher_request(f, la->url, body, strlen(body), &r) == -1) {
		if (r.too_big) /* complete perhaps, but too large to hold */
			rc = split_part(la, &r, start, end, r.curl_err);
		else
			log_errorx("Log Analytics: workspace %s: request "
				   "failed: %s",
				   f->o.workspace, r.curl_err);
		goto out;
	}
	if (r.status == 204) {
		log_info("Log Analytics: workspace %s holds no data (HTTP 204)",
			 f->o.workspace);
		rc = 0;
		goto out;
	}
	if (r.status != 200) {
		log_la_error(la, &r);
		goto out;
	}
	if (r.body.len == 0) {
		log_errorx("Log Analytics: workspace %s: empty answer to the "
			   "query (HTTP 200 without a body)",
			   f->o.workspace);
		goto out;
	}
	if (la_scan_response(r.body.data, r.body.len, &s, &errstr) == -1) {
		/* A body cut or garbled on the way: nothing of it was used,
		 * so the request is tried again like a failed transfer. */
		if (attempt < f->http.max_attempts) {
			double wait = http_retry_wait(&r, attempt);

			log_warnx("Log Analytics: workspace %s: %s; retrying "
				  "in %.1f s (attempt %d of %d)",
				  f->o.workspace, errstr, wait, attempt + 1,
				  f->http.max_attempts);
			sleep_seconds(wait);
			goto again;
		}
		log_errorx("Log Analytics: workspace %s: %s", f->o.workspace,
			   errstr);
		goto out;
	}
	if (s.error_len > 0) {
		partial = la_partial_error(r.body.data + s.error_off,
					   s.error_len, msg, sizeof(msg));
		if (partial == -1)
			snprintf(msg, sizeof(msg), "%.*s",
				 (int)(s.error_len < 200 ? s.error_len : 200),
				 r.body.data + s.error_off);
		if (partial != 1) {
			log_errorx("Error with Log Analytics request: "
				   "workspace %s: %s",
				   f->o.workspace, msg);
			goto out;
		}
		rc = split_part(la, &r, start, end, msg);
		goto out;
	}
	rc = emit_rows(la, r.body.data, &s);
out:
	free(body);
	json_decref(req);
	buf_free(&q);
	buf_free(&ts);
	http_resp_free(&r);
	return rc;
}

static void
la_run(struct fetcher *f)
{
	struct fopts *o = &f->o;
	struct la la = {.f = f,
			.field = f->o.la_ingestion ? "ingestion_time()"
						   : "TimeGenerated"};
	struct window w = {0};
	struct buf base, url;
	char key[MD5_HEXLEN], *mn = NULL, *mx = NULL, *ws;
	int64_t start, end;

	buf_init(&base, 4 * 1024 * 1024);
	buf_init(&url, 65536);
	if (o->json) {
		date_parse(o->since, &start);
		end = date_now();
		if (o->until)
			date_parse(o->until, &end);
		buf_printf(&base, "%s | order by TimeGenerated asc ", o->query);
	} else {
		la_key(o->query, o->workspace, key);
		fetcher_checkpoint(f, key, "", &w, &mn, &mx);
		if (la_build_query(o->query, la.field, &w, &base) == -1)
			fatalx("Log Analytics: query too long");
		la_window_start(&w, &start);
		end = window_end(&w);
		free(mn);
		free(mx);
	}
	ws = url_encode_path(o->workspace);
	buf_printf(&url, "%s/v1/workspaces/%s/query", o->api_url, ws);
	free(ws);
	la.url = url.data;
	la.base = base.data;
	log_debug("Log Analytics: The search starts for query: \"%s\"",
		  base.data);
	if (start >= end)
		log_info("Log Analytics: the window is empty (it starts at or "
			 "after now)");
	else if (query_part(&la, start, end) == -1)
		f->failed = 1;
	if (!f->failed && la.rows == 0)
		log_info("Log Analytics: There are no new results");
	log_info("Log Analytics: %lld rows in %lld requests",
		 (long long)la.rows, (long long)la.parts);
	buf_free(&base);
	buf_free(&url);
}

static const struct fetcher_ops la_ops = {
    .prog = "azure-la",
    .service = "Log Analytics",
    .table = "log_analytics",
    .scope = "https://api.loganalytics.io/.default",
    .url_option = "la-url",
    .default_url = "https://api.loganalytics.io",
    .usage = usage,
    .auth_first = "application_id",
    .auth_second = "application_key",
    .la = 1,
    .overlap = 600, /* ingestion latency: 20 s to 3 min on average */
    .lag = 60,
    .run = la_run,
};

int
main(int argc, char **argv)
{
	return fetcher_main(argc, argv, &la_ops);
}

/*
 * azure-la: the Log Analytics fetcher. It asks the statekeeper for the
 * checkpoint of md5("query=<Q>|workspace=<W>"), sends Wazuh's KQL for the
 * window with POST, bounded by a timespan, and turns each row of
 * tables[0] into one event as soon as it arrives (the answer is parsed as
 * it streams in, never held whole). A result the service truncated (a 200
 * carrying PartialError) is never taken for complete: its rows are kept
 * and the next request asks for the rest, from the newest TimeGenerated
 * sent on (see struct la_part).
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
    "                [--stats-fd N] [--progress]\n"
    "                [--cloud NAME] [--proxy URL] [--identity-url URL]\n"
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

/* A multiset of row ids (md5 hex): open addressing, cap a power of 2. */
struct idslot {
	char id[MD5_HEXLEN];
	uint32_t count;
};
struct idset {
	struct idslot *slot;
	size_t cap, n;
};

static size_t
id_hash(const char *id)
{
	size_t h = 1469598103934665603ULL & SIZE_MAX;
	int i;

	for (i = 0; i < MD5_HEXLEN - 1; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
	return h;
}

/* The slot of id, or the empty slot where it would go (cap > 0). */
static struct idslot *
idset_slot(const struct idset *s, const char *id)
{
	size_t i, mask = s->cap - 1;

	for (i = id_hash(id) & mask;; i = (i + 1) & mask)
		if (s->slot[i].id[0] == '\0' ||
		    memcmp(s->slot[i].id, id, MD5_HEXLEN - 1) == 0)
			return &s->slot[i];
}

static void
idset_add(struct idset *s, const char *id)
{
	struct idset bigger;
	struct idslot *e;
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		bigger.cap = s->cap ? 2 * s->cap : 16;
		bigger.n = s->n;
		bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
		for (i = 0; i < s->cap; i++)
			if (s->slot[i].id[0] != '\0')
				*idset_slot(&bigger, s->slot[i].id) =
				    s->slot[i];
		free(s->slot);
		*s = bigger;
	}
	e = idset_slot(s, id);
	if (e->id[0] == '\0') {
		memcpy(e->id, id, MD5_HEXLEN);
		s->n++;
	}
	e->count++;
}

/* Take one id out (1), or 0 if none is left. */
static int
idset_take(struct idset *s, const char *id)
{
	struct idslot *e;

	if (s->cap == 0)
		return 0;
	e = idset_slot(s, id);
	if (e->id[0] == '\0' || e->count == 0)
		return 0;
	e->count--;
	return 1;
}

static void
idset_clear(struct idset *s)
{
	if (s->n == 0)
		return;
	if (s->cap > 16) { /* a crowd of rows at one instant is gone */
		free(s->slot);
		s->slot = NULL;
		s->cap = 0;
	} else
		memset(s->slot, 0, s->cap * sizeof(*s->slot));
	s->n = 0;
}

static void
idset_copy(struct idset *dst, const struct idset *src)
{
	free(dst->slot);
	*dst = *src;
	if (src->cap) {
		dst->slot = xcalloc(src->cap, sizeof(*src->slot));
		memcpy(dst->slot, src->slot, src->cap * sizeof(*src->slot));
	}
}

/*
 * One part [start, end) of the window, asked for in one or more requests.
 * The answer is parsed as it arrives and each row sent at once. Rows come
 * in TimeGenerated order ("order by TimeGenerated asc"), so when an answer
 * breaks off (truncated by the service, cut, garbled) the next request
 * asks only for the rows from the newest TimeGenerated sent on, and skips
 * the rows of that instant already sent (by id): no row is sent twice,
 * even with --reparse (no de-duplication).
 */
struct la_part {
	struct la *la;
	struct la_stream st;
	json_t *names;	     /* tables[0]'s column names; NULL until known */
	int time_col;	     /* the checkpoint's column */
	int order_col;	     /* TimeGenerated (-1: absent) */
	char cols_err[512];  /* the columns are unusable: why (told at the
				end, after any "error" of the answer) */
	struct buf deferred; /* rows before the columns: (size_t, text) */
	int fatal;	     /* a row could not be sent (told) */
	int garbled;	     /* a row is not JSON: the answer is garbled */
	/* Over the part's requests: */
	int64_t last;	      /* TimeGenerated of the newest row sent */
	struct idset at_last; /* the ids of the rows sent at last */
	int unordered;	      /* a row older than one before: no resuming */
	/* This request: */
	int resuming; /* asks from resume on, skipping the ids of skip */
	int64_t resume;
	struct idset skip;
	int64_t sent; /* rows sent */
};

/* The id of a row: the md5 of the row as the service sent it (raw, len),
 * without our ingestion time column (the last one: a date, so the last
 * comma is before it): the same row has the same id whatever the tag or
 * the checkpoint mode. */
static void
row_id(const struct la_part *pt, const char *raw, size_t len,
       char id[MD5_HEXLEN])
{
	const char *comma;
	struct buf cut;

	if (pt->la->f->o.la_ingestion &&
	    (size_t)pt->time_col + 1 == json_array_size(pt->names) &&
	    (comma = memrchr(raw, ',', len)) != NULL) {
		buf_init(&cut, (size_t)(comma - raw) + 2);
		buf_append(&cut, raw, (size_t)(comma - raw));
		buf_append(&cut, "]", 1);
		md5_hex(cut.data, cut.len, id);
		buf_free(&cut);
	} else
		md5_hex(raw, len, id);
}

/*
 * A row whose columns are known: send it unless a request before this one
 * sent it. Its time (raw string: TimeGenerated, or our ingestion time
 * column, which is not sent) moves the checkpoint. Returns 0, or -1
 * (told; the part fails).
 */
static int
use_row(struct la_part *pt, const char *raw, size_t len)
{
	struct fetcher *f = pt->la->f;
	const char *time, *tg = NULL;
	char id[MD5_HEXLEN], jerr[JSON_ERROR_TEXT_LENGTH];
	json_error_t jerr2;
	json_t *row = NULL;
	int64_t t = INT64_MIN;
	int rc;

	buf_reset(&f->body);
	rc = la_row_event(pt->names, raw, len, f->o.tag,
			  f->o.la_ingestion ? pt->time_col : -1, pt->time_col,
			  &f->body, &time, jerr, sizeof(jerr));
	if (rc == -2 && !la_row_valid(raw, len)) {
		pt->garbled = 1; /* asked again, as a garbled answer */
		return -1;
	}
	if (rc == -2)
		log_errorx("Log Analytics: workspace %s: a row is not JSON: %s",
			   f->o.workspace, jerr);
	else if (rc == -1)
		log_errorx("Log Analytics: workspace %s: a row has fewer cells "
			   "than the %zu columns, or is larger than %zu bytes",
			   f->o.workspace, json_array_size(pt->names),
			   (size_t)EVENT_MAX);
	if (rc != 0) {
		pt->fatal = 1;
		return -1;
	}
	row_id(pt, raw, len, id);
	if (pt->order_col == pt->time_col)
		tg = time;
	else if (pt->order_col >= 0 &&
		 (row = pyjson_load(raw, len, &jerr2)) != NULL)
		/* ingestion mode: rows are in TimeGenerated order */
		tg = json_string_value(
		    json_array_get(row, (size_t)pt->order_col));
	if (tg != NULL && date_parse(tg, &t) == -1)
		t = INT64_MIN;
	json_decref(row);
	if (pt->resuming && t == pt->resume && idset_take(&pt->skip, id))
		return 0;
	fetcher_emit(f, time, id);
	pt->la->rows++;
	pt->sent++;
	if (t == INT64_MIN) { /* no time: first in the order, or not ordered */
		if (pt->last != INT64_MIN)
			pt->unordered = 1;
	} else if (t > pt->last) {
		pt->last = t;
		idset_clear(&pt->at_last);
		idset_add(&pt->at_last, id);
	} else if (t == pt->last)
		idset_add(&pt->at_last, id);
	else
		pt->unordered = 1;
	return 0;
}

/* la_stream callback: tables[0].columns. */
static int
on_columns(void *arg, const char *p, size_t n)
{
	struct la_part *pt = arg;
	struct fetcher *f = pt->la->f;
	const char *errstr = NULL, *ws = f->o.workspace;
	json_t *cols, *names = NULL, *tg = NULL;
	json_error_t jerr;
	size_t off = 0, len;
	int time_col = -1, order_col;

	json_decref(pt->names);
	pt->names = NULL;
	pt->cols_err[0] = '\0';
	cols = json_loadb(p, n, 0, &jerr);
	if (cols == NULL || la_columns(cols, &names, &time_col,
				       f->o.la_ingestion ? LA_INGESTION_COLUMN
							 : "TimeGenerated",
				       &errstr)) {
		snprintf(pt->cols_err, sizeof(pt->cols_err),
			 "Log Analytics: workspace %s: bad columns: %s", ws,
			 cols ? errstr : jerr.text);
	} else if (time_col == -1 && f->o.la_ingestion)
		snprintf(pt->cols_err, sizeof(pt->cols_err),
			 "Log Analytics: workspace %s: the query's rows have "
			 "no ingestion time (ingestion_time() is null after "
			 "summarize or join): use --la-checkpoint generated",
			 ws);
	else if (time_col == -1)
		snprintf(pt->cols_err, sizeof(pt->cols_err),
			 "Error: No TimeGenerated field was found (workspace "
			 "%s): the query must keep the TimeGenerated column",
			 ws);
	else {
		order_col = time_col;
		if (f->o.la_ingestion &&
		    la_columns(cols, &tg, &order_col, "TimeGenerated",
			       &errstr) == -1)
			order_col = -1;
		json_decref(tg);
		pt->names = names;
		names = NULL;
		pt->time_col = time_col;
		pt->order_col = order_col;
	}
	json_decref(names);
	json_decref(cols);
	/* Rows that came before the columns. */
	while (pt->names != NULL && off < pt->deferred.len) {
		memcpy(&len, pt->deferred.data + off, sizeof(len));
		off += sizeof(len);
		if (use_row(pt, pt->deferred.data + off, len) == -1)
			return -1;
		off += len;
	}
	buf_reset(&pt->deferred);
	return 0;
}

/* la_stream callback: a row of tables[0]. */
static int
on_row(void *arg, const char *raw, size_t len)
{
	struct la_part *pt = arg;

	if (pt->cols_err[0] != '\0') /* the columns' message comes later */
		return 0;
	if (pt->names != NULL)
		return use_row(pt, raw, len);
	if (buf_append(&pt->deferred, &len, sizeof(len)) == -1 ||
	    buf_append(&pt->deferred, raw, len) == -1) {
		log_errorx("Log Analytics: workspace %s: the rows before the "
			   "columns exceed %zu bytes",
			   pt->la->f->o.workspace, HTTP_BODY_MAX);
		pt->fatal = 1;
		return -1;
	}
	return 0;
}

/* The http sink of a 200: the answer as it arrives. */
static int
la_sink(void *arg, const char *p, size_t n)
{
	struct la_part *pt = arg;

	return la_stream_feed(&pt->st, p, n) == 0 ? 0 : -1;
}

static void
part_init(struct la_part *pt, struct la *la)
{
	memset(pt, 0, sizeof(*pt));
	pt->la = la;
	pt->last = INT64_MIN;
	la_stream_init(&pt->st, on_columns, on_row, pt);
	buf_init(&pt->deferred, HTTP_BODY_MAX);
}

static void
part_free(struct la_part *pt)
{
	la_stream_free(&pt->st);
	buf_free(&pt->deferred);
	json_decref(pt->names);
	free(pt->at_last.slot);
	free(pt->skip.slot);
}

/* The next request goes on from the newest row sent, if the rows came in
 * order. Returns 1 if so, 0 if it must start over. */
static int
part_resume(struct la_part *pt)
{
	if (pt->unordered || pt->last == INT64_MIN) {
		pt->resuming = 0;
		return 0;
	}
	pt->resuming = 1;
	pt->resume = pt->last;
	idset_copy(&pt->skip, &pt->at_last);
	return 1;
}

/* The request's JSON body for the part (q, ts: scratch). */
static char *
part_request(struct la_part *pt, int64_t start, int64_t end, struct buf *q,
	     struct buf *ts)
{
	struct la *la = pt->la;
	struct fetcher *f = la->f;
	char from[DATE_STRLEN];
	json_t *req;
	char *body;
	int rc;

	buf_reset(q);
	buf_reset(ts);
	if (pt->resuming && !f->o.la_ingestion && pt->resume > start)
		start = pt->resume;
	rc = la_bound_query(la->base, la->field, start, end, q);
	if (pt->resuming && f->o.la_ingestion) {
		date_format_iso(pt->resume, from);
		rc |= buf_printf(q, " | where TimeGenerated >= datetime(%s)",
				 from);
	}
	if (rc == -1 || la_timespan(start, end, ts) == -1)
		fatalx("Log Analytics: query too long");
	/* The timespan bounds TimeGenerated: none when the window is on the
	 * ingestion time, or late rows would be cut off again. */
	req = f->o.la_ingestion ? json_pack("{s:s}", "query", q->data)
				: json_pack("{s:s, s:s}", "query", q->data,
					    "timespan", ts->data);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (body == NULL)
		fatalx("Log Analytics: the query is not valid UTF-8");
	json_decref(req);
	return body;
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
 * The answer for [start, end) was truncated, too large or incomplete (a
 * failed shard: why) and cannot go on from its newest row: ask for each
 * half, oldest first (the rows
 * already sent are sent again: the statekeeper drops them). r is freed
 * first, so memory stays bounded. Returns as query_part() does.
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
	log_info("Log Analytics: workspace %s: result incomplete (%s); "
		 "splitting %s in two",
		 ws, why, span);
	http_resp_free(r);
	return query_part(la, start, mid) == 0 && query_part(la, mid, end) == 0
		   ? 0
		   : -1;
}

/* Why the answer stopped being read: NULL when it was told already (the
 * part fails), else the reason to ask again. */
static const char *
part_broken(const struct la_part *pt)
{
	if (pt->fatal)
		return NULL;
	if (pt->st.malformed_rows) {
		log_errorx("Log Analytics: workspace %s: the rows array is "
			   "malformed",
			   pt->la->f->o.workspace);
		return NULL;
	}
	if (pt->garbled)
		return "the response is truncated or not JSON";
	return pt->st.errstr ? pt->st.errstr
			     : "the response is truncated or not JSON";
}

/* Prepare for another request of the part after an answer that broke off
 * (why). Returns 0, or -1 (told) when the attempts are spent. */
static int
part_retry(struct la_part *pt, struct http_resp *r, int *attempt,
	   const char *why)
{
	struct fetcher *f = pt->la->f;
	double wait;
	int on = part_resume(pt) && pt->sent > 0;

	if (on) /* it moved on: not a failed attempt */
		*attempt = 0;
	else if (*attempt < f->http.max_attempts)
		f->http.retries++;
	if (*attempt >= f->http.max_attempts) {
		log_errorx("Log Analytics: workspace %s: %s", f->o.workspace,
			   why);
		return -1;
	}
	wait = http_retry_wait(r, *attempt > 0 ? *attempt : 1);
	if (on)
		log_warnx("Log Analytics: workspace %s: %s after %lld rows; "
			  "asking for the rest in %.1f s",
			  f->o.workspace, why, (long long)pt->sent, wait);
	else
		log_warnx("Log Analytics: workspace %s: %s; retrying in %.1f s "
			  "(attempt %d of %d)",
			  f->o.workspace, why, wait, *attempt + 1,
			  f->http.max_attempts);
	sleep_seconds(wait);
	return 0;
}

/*
 * Ask for the rows of [start, end), sending each as it arrives. A
 * truncated answer goes on from its newest row (or, out of order, splits
 * the part in two halves, oldest first). Returns 0 when every row of the
 * part was emitted, -1 otherwise (the run then ends without a checkpoint).
 */
static int
query_part(struct la *la, int64_t start, int64_t end)
{
	struct fetcher *f = la->f;
	struct http_resp r = {0};
	struct la_part pt;
	struct buf q, ts;
	const char *ws = f->o.workspace, *why;
	char *body = NULL, msg[1024], from[DATE_STRLEN];
	int rc = -1, partial, truncated, attempt = 0, n;

	part_init(&pt, la);
	buf_init(&q, 4 * 1024 * 1024);
	buf_init(&ts, 128);
	for (;;) {
		free(body);
		body = part_request(&pt, start, end, &q, &ts);
		la->parts++;
		attempt++;
		la_stream_reset(&pt.st);
		json_decref(pt.names);
		pt.names = NULL;
		pt.cols_err[0] = '\0';
		buf_reset(&pt.deferred);
		pt.sent = 0;
		pt.garbled = 0;
		log_info("Log Analytics: Sending a request to the Log "
			 "Analytics API.");
		log_debug("Log Analytics: POST %s timespan %s query: %s",
			  la->url, ts.data, q.data);
		f->http.sink = la_sink;
		f->http.sink_arg = &pt;
		n = fetcher_request(f, la->url, body, strlen(body), &r);
		f->http.sink = NULL;
		f->http.sink_arg = NULL;
		if (n == 0)
			report_page(f); /* an answer (perhaps cut) */
		if (pt.fatal)
			goto out;
		if (n == -1) {
			if (r.sink_failed) { /* garbled on the way */
				if ((why = part_broken(&pt)) == NULL)
					goto out;
			} else if (r.sunk > 0 && !r.expired) /* cut */
				why = r.curl_err;
			else {
				if (r.too_big) /* an error body */
					rc = split_part(la, &r, start, end,
							r.curl_err);
				else
					log_errorx("Log Analytics: workspace "
						   "%s: request failed: %s",
						   ws, r.curl_err);
				goto out;
			}
			if (part_retry(&pt, &r, &attempt, why) == -1)
				goto out;
			continue;
		}
		if (r.status == 204) {
			log_info("Log Analytics: workspace %s holds no data "
				 "(HTTP 204)",
				 ws);
			rc = 0;
			goto out;
		}
		if (r.status != 200) {
			log_la_error(la, &r);
			goto out;
		}
		if (r.sunk == 0) {
			log_errorx("Log Analytics: workspace %s: empty answer "
				   "to the query (HTTP 200 without a body)",
				   ws);
			goto out;
		}
		if (la_stream_end(&pt.st) == -1) {
			/* A body cut or garbled on the way: asked again like
			 * a failed transfer. */
			if ((why = part_broken(&pt)) == NULL ||
			    part_retry(&pt, &r, &attempt, why) == -1)
				goto out;
			continue;
		}
		if (pt.st.error.len == 0) {
			if (pt.cols_err[0] != '\0')
				log_errorx("%s", pt.cols_err);
			else
				rc = 0;
			goto out;
		}
		partial = la_partial_error(pt.st.error.data, pt.st.error.len,
					   msg, sizeof(msg));
		if (partial == -1)
			snprintf(msg, sizeof(msg), "%.*s",
				 (int)(pt.st.error.len < 200 ? pt.st.error.len
							     : 200),
				 pt.st.error.data);
		if (partial != 1) {
			log_errorx("Error with Log Analytics request: "
				   "workspace %s: %s",
				   ws, msg);
			goto out;
		}
		/* Only a truncation (the result's size limits) cuts the rows
		 * in time order; a failed shard loses older rows too. */
		truncated = strstr(msg, "E_QUERY_RESULT_SET_TOO_LARGE") != NULL;
		if (truncated && pt.sent > 0 && part_resume(&pt)) {
			date_format_iso(pt.resume, from);
			log_info(
			    "Log Analytics: workspace %s: result truncated "
			    "(%s) after %lld rows; asking for the rows from "
			    "%s on",
			    ws, msg, (long long)pt.sent, from);
			attempt = 0;
			continue;
		}
		if (truncated && pt.resuming && !pt.unordered) {
			date_format_iso(pt.resume, from);
			log_errorx(
			    "Log Analytics: workspace %s: the rows of the "
			    "single instant %s exceed the service's "
			    "limits (%s); narrow the query",
			    ws, from, msg);
			goto out;
		}
		rc = split_part(la, &r, start, end, msg);
		goto out;
	}
out:
	free(body);
	buf_free(&q);
	buf_free(&ts);
	http_resp_free(&r);
	part_free(&pt);
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

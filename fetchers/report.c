/*
 * What a run tells about itself: progress while it runs (-d 1, and a live
 * line with --progress on a terminal), and at its end one summary line,
 * logged whatever -d, and with --stats-fd the same as one line of JSON
 * (docs/internals.md, "Reports").
 *
 * delivered, duplicates and dead-lettered are the statekeeper's: it answers
 * each DONE with a RESULT once the window is finished, and the run reads
 * them all before it ends (bounded by --timeout, ended by EOF).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <jansson.h>

#include "date.h"
#include "fetch.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"

#define FD_FROM_SK	 0
#define PROGRESS_SECS	 10 /* -d 1: a progress line this often */
#define LIVE_TICKS	 (DATE_TICKS_PER_SEC / 4)
#define LABEL_MAX	 200 /* of a query in a log line */
#define PROGRESS_ENV	 "AZURE_LOGS_PROGRESS_SECONDS"
#define EVENTS_PER_CHECK 1024 /* events between looks at the clock */

/* Pages, answers or blobs: what the service's unit is called. */
static const char *
unit(const struct fetcher *f)
{
	if (f->ops->storage)
		return "blobs read";
	if (f->ops->la)
		return "requests";
	return "pages";
}

/* A query fit for one log line: controls as spaces, at most LABEL_MAX. */
static void
label_text(const char *s, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; s[i] != '\0' && n + 4 < outlen; i++) {
		if (i == LABEL_MAX) {
			strlcpy(out + n, "...", outlen - n);
			return;
		}
		out[n] = s[i];
		if ((unsigned char)s[i] < ' ')
			out[n] = ' ';
		n++;
	}
	out[n] = '\0';
}

/* Controls (a newline in a tag, a workspace or a message) as spaces: the
 * line stays one line. */
static void
no_controls(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ')
			*s = ' ';
}

/*
 * Progress: "Graph auditLogs/signIns", "Log Analytics workspace W query Q",
 * "Storage container C"; the summary (request != 0): "Graph request
 * auditLogs/signIns", "Log Analytics request Q on workspace W", "Storage
 * request container C".
 */
static void
request_label(const struct fetcher *f, int request, char *out, size_t outlen)
{
	const char *svc = f->ops->service, *req = request ? " request" : "";
	char q[LABEL_MAX + 8];

	if (f->ops->storage) {
		snprintf(out, outlen, "%s%s container %s", svc, req,
			 f->o.container ? f->o.container : "");
		no_controls(out);
		return;
	}
	label_text(f->o.query ? f->o.query : "", q, sizeof(q));
	if (f->ops->la && request)
		snprintf(out, outlen, "%s request %s on workspace %s", svc, q,
			 f->o.workspace);
	else if (f->ops->la)
		snprintf(out, outlen, "%s workspace %s query %s", svc,
			 f->o.workspace, q);
	else
		snprintf(out, outlen, "%s%s %s", svc, req, q);
	no_controls(out);
}

void
report_start(struct fetcher *f)
{
	struct report *r = &f->rep;
	const char *v, *errstr;

	r->started = date_now();
	r->newest = INT64_MIN;
	r->every = PROGRESS_SECS;
	if ((v = getenv(PROGRESS_ENV)) != NULL && *v != '\0') {
		r->every = strtonum(v, 0, 86400, &errstr);
		if (errstr)
			usage_error("%s=%s: %s (0 to 86400)", PROGRESS_ENV, v,
				    errstr);
	}
	r->next_log = r->started + r->every * DATE_TICKS_PER_SEC;
	r->live = f->o.progress && isatty(STDERR_FILENO);
	log_set_live(r->live);
}

static void
progress(struct fetcher *f, int page)
{
	struct report *r = &f->rep;
	char label[LABEL_MAX + 512], line[LABEL_MAX + 700];
	int64_t now;
	ssize_t w = 0;
	int n;

	if (log_level() < 1 && !r->live)
		return;
	now = date_now();
	if (log_level() >= 1 &&
	    (r->every == 0 ? page : r->every > 0 && now >= r->next_log)) {
		request_label(f, 0, label, sizeof(label));
		log_info("%s: %" PRId64 " events, %" PRId64 " %s so far", label,
			 f->events, r->pages, unit(f));
		r->next_log = now + r->every * DATE_TICKS_PER_SEC;
	}
	if (r->live && now >= r->next_live) {
		request_label(f, 0, label, sizeof(label));
		n = snprintf(line, sizeof(line),
			     "\r\033[K%s: %" PRId64 " events, %" PRId64 " %s",
			     label, f->events, r->pages, unit(f));
		if (n > 0)
			w = write(STDERR_FILENO, line,
				  (size_t)n < sizeof(line) ? (size_t)n
							   : sizeof(line) - 1);
		(void)w;
		r->next_live = now + LIVE_TICKS;
	}
}

void
report_page(struct fetcher *f)
{
	f->rep.pages++;
	progress(f, 1);
}

/* An event was queued: its time may be the newest. */
void
report_event(struct fetcher *f, const char *time)
{
	int64_t t;

	if (time != NULL && *time != '\0' && date_parse(time, &t) == 0 &&
	    t > f->rep.newest)
		f->rep.newest = t;
	if (f->events % EVENTS_PER_CHECK == 0)
		progress(f, 0);
}

/* A RESULT: how the statekeeper finished one window. */
void
report_result(struct fetcher *f, const struct frame *fr)
{
	struct report *r = &f->rep;

	if (r->results >= r->dones) {
		r->sk_gone = 1;
		fatalx("%s: the statekeeper sent a RESULT for no DONE",
		       f->ops->service);
	}
	r->results++;
	if (!frame_bool(fr, 0))
		r->not_ok = 1;
	r->delivered += frame_int(fr, 1);
	r->duplicates += frame_int(fr, 2);
	r->dead += frame_int(fr, 3);
}

/*
 * Read the RESULTs still owed (one per DONE), up to the run's deadline.
 * Never fatal (it may run from exit()): returns 0 when all came, -1 with
 * why otherwise.
 */
static int
collect_results(struct fetcher *f, char *why, size_t whylen)
{
	struct report *r = &f->rep;
	const char *errstr = NULL;
	struct pollfd pfd;
	struct frame fr;
	int64_t left;
	int rc, ms;

	while (r->results < r->dones) {
		if (r->sk_gone) {
			strlcpy(why, "the statekeeper is gone", whylen);
			return -1;
		}
		rc = frame_next(&f->in, &fr, &errstr);
		if (rc == -1) {
			snprintf(why, whylen,
				 "protocol error from the statekeeper: %s",
				 errstr);
			r->sk_gone = 1;
			return -1;
		}
		if (rc == 1) {
			if (fr.type != FRAME_RESULT) {
				snprintf(why, whylen,
					 "the statekeeper sent %s instead of "
					 "RESULT",
					 frame_type_name(fr.type));
				frame_free(&fr);
				r->sk_gone = 1;
				return -1;
			}
			r->results++;
			if (!frame_bool(&fr, 0))
				r->not_ok = 1;
			r->delivered += frame_int(&fr, 1);
			r->duplicates += frame_int(&fr, 2);
			r->dead += frame_int(&fr, 3);
			frame_free(&fr);
			continue;
		}
		ms = -1;
		if (f->http.deadline != 0) {
			left = f->http.deadline - date_now();
			if (left <= 0) {
				strlcpy(why,
					"no answer from the statekeeper before "
					"the run's time limit (--timeout)",
					whylen);
				return -1;
			}
			left = left / (DATE_TICKS_PER_SEC / 1000) + 1;
			ms = left > 3600 * 1000 ? 3600 * 1000 : (int)left;
		}
		pfd = (struct pollfd){.fd = FD_FROM_SK, .events = POLLIN};
		if (poll(&pfd, 1, ms) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd.revents == 0)
			continue; /* the deadline is looked at above */
		if (frame_reader_fill(&f->in, FD_FROM_SK) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(why, whylen, "read from the statekeeper: %s",
				 strerror(errno));
			r->sk_gone = 1;
			return -1;
		}
		if (f->in.eof && !frame_pending(&f->in)) {
			strlcpy(why,
				"the statekeeper closed the pipe before "
				"answering",
				whylen);
			r->sk_gone = 1;
			return -1;
		}
		if (f->in.eof) {
			strlcpy(why, "the statekeeper sent a truncated frame",
				whylen);
			r->sk_gone = 1;
			return -1;
		}
	}
	return 0;
}

/*
 * A JSON string of s whatever its bytes: json_string() refuses text that
 * is not UTF-8 and json_object_set_new() would then leave the key out.
 * Each byte that does not start a valid character becomes U+FFFD.
 */
static json_t *
lossy_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, o = 0, len = strlen(s);
	unsigned cp;
	json_t *j;
	char *t;

	if ((t = malloc(len * 3 + 1)) == NULL)
		return NULL;
	while (*p != '\0') {
		n = *p < 0x80
			? 1
			: pyjson_utf8_seq(
			      p, len - (size_t)(p - (const unsigned char *)s),
			      &cp);
		if (n == 0) {
			memcpy(t + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(t + o, p, n);
		o += n;
		p += n;
	}
	t[o] = '\0';
	j = json_string(t);
	free(t);
	return j;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? lossy_string(s) : json_null();
}

static json_t *
int_or_null(int known, int64_t n)
{
	return known ? json_integer(n) : json_null();
}

static void
write_stats(struct fetcher *f, int known, int64_t lag, double secs,
	    const char *error)
{
	struct report *r = &f->rep;
	const struct fopts *o = &f->o;
	char newest[DATE_STRLEN];
	json_t *j;
	char *s;

	if (o->stats_fd < 0)
		return;
	if (r->newest != INT64_MIN)
		date_format_iso(r->newest, newest);
	j = json_object();
	json_object_set_new(j, "service", lossy_string(f->ops->table));
	json_object_set_new(j, "query",
			    str_or_null(f->ops->storage ? NULL : o->query));
	json_object_set_new(j, "workspace",
			    str_or_null(f->ops->la ? o->workspace : NULL));
	json_object_set_new(j, "container",
			    str_or_null(f->ops->storage ? o->container : NULL));
	json_object_set_new(j, "tag", str_or_null(o->tag));
	json_object_set_new(j, "fetched", json_integer(f->events));
	json_object_set_new(j, "delivered", int_or_null(known, r->delivered));
	json_object_set_new(j, "duplicates", int_or_null(known, r->duplicates));
	json_object_set_new(j, "dead_lettered", int_or_null(known, r->dead));
	json_object_set_new(j, "pages", json_integer(r->pages));
	json_object_set_new(j, "retries", json_integer(f->http.retries));
	json_object_set_new(j, "bytes", json_integer(f->http.bytes));
	json_object_set_new(j, "newest_event",
			    r->newest != INT64_MIN ? json_string(newest)
						   : json_null());
	json_object_set_new(j, "lag_seconds",
			    int_or_null(r->newest != INT64_MIN, lag));
	json_object_set_new(
	    j, "duration_seconds",
	    json_real((double)(int64_t)(secs * 1000 + 0.5) / 1000));
	json_object_set_new(j, "status",
			    json_string(error != NULL ? "error" : "ok"));
	json_object_set_new(j, "error", lossy_string(error ? error : ""));
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
			      JSON_REAL_PRECISION(15));
	json_decref(j);
	if (s == NULL || write_all(o->stats_fd, s, strlen(s)) == -1 ||
	    write_all(o->stats_fd, "\n", 1) == -1)
		log_warn("%s: cannot write the statistics on descriptor %d",
			 f->ops->service, o->stats_fd);
	free(s);
	close(o->stats_fd);
}

/*
 * The end of the run (normal: fetcher_main() got there; else exit() was
 * called on a failure): the RESULTs owed, then the summary line and the
 * statistics. Sets f->failed when the run turns out not complete.
 */
void
report_end(struct fetcher *f, int normal)
{
	struct report *r = &f->rep;
	char why[512], label[LABEL_MAX + 512], tag[512], newest[128];
	char iso[DATE_STRLEN];
	char error[1024], counts[256], line_err[1024];
	const char *err = NULL;
	int64_t now, lag = 0;
	double secs;
	ssize_t w;
	int known;

	if (r->ended)
		return;
	r->ended = 1;
	why[0] = '\0';
	if (f->o.json) {
		r->delivered = r->printed;
		known = 1;
	} else {
		known = collect_results(f, why, sizeof(why)) == 0 &&
			!(f->window_open && f->window_events > 0);
	}
	if (!normal || f->failed) {
		err = *log_last_error() != '\0'
			  ? log_last_error()
			  : "the run did not complete: the checkpoint stays "
			    "where it was";
	} else if (why[0] != '\0') {
		snprintf(error, sizeof(error), "%s: delivered unknown: %s",
			 f->ops->service, why);
		err = error;
	} else if (r->not_ok) {
		snprintf(error, sizeof(error),
			 "%s: the statekeeper did not complete a window: "
			 "the checkpoint stays where it was",
			 f->ops->service);
		err = error;
	}
	if (err != NULL)
		f->failed = 1;
	now = date_now();
	secs = (double)(now - r->started) / DATE_TICKS_PER_SEC;
	if (r->live) {
		w = write(STDERR_FILENO, "\r\033[K", 4);
		(void)w;
		r->live = 0;
		log_set_live(0);
	}
	if (!f->o.check) {
		request_label(f, 1, label, sizeof(label));
		tag[0] = '\0';
		if (f->o.tag != NULL)
			snprintf(tag, sizeof(tag), " (tag %s)", f->o.tag);
		no_controls(tag);
		if (err != NULL) {
			strlcpy(line_err, err, sizeof(line_err));
			no_controls(line_err);
		}
		if (known)
			snprintf(counts, sizeof(counts),
				 "%" PRId64 " delivered, %" PRId64
				 " duplicates, %" PRId64 " dead-lettered",
				 r->delivered, r->duplicates, r->dead);
		else
			strlcpy(counts,
				"delivered unknown (no answer from the "
				"statekeeper)",
				sizeof(counts));
		if (r->newest != INT64_MIN) {
			lag = (now - r->newest) / DATE_TICKS_PER_SEC;
			date_format_iso(r->newest, iso);
			snprintf(newest, sizeof(newest),
				 "newest event %s (lag %" PRId64 " s)", iso,
				 lag);
		} else
			strlcpy(newest, "no event", sizeof(newest));
		log_info_always("%s%s: %" PRId64 " fetched, %s, "
				"%" PRId64 " %s, %" PRId64 " retries, "
				"%" PRId64 " bytes, %s, %.1f s%s%s",
				label, tag, f->events, counts, r->pages,
				unit(f), f->http.retries, f->http.bytes, newest,
				secs, err ? "; status error: " : "",
				err ? line_err : "");
	} else if (r->newest != INT64_MIN)
		lag = (now - r->newest) / DATE_TICKS_PER_SEC;
	write_stats(f, known, lag, secs, err);
}

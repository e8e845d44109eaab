/*
 * azure-statekeeper: the only process that opens azure.db. It answers the
 * fetcher's checkpoint request, numbers the fetcher's events and passes
 * them to the forwarder, and moves the checkpoint only once the fetcher
 * finished its window and the forwarder acknowledged every event of it.
 *
 * Descriptors (docs/internals.md): 0 from the fetcher, 1 to the fetcher,
 * 3 to the forwarder, 4 from the forwarder. One poll loop; POLLOUT is asked
 * only when a queue holds data, and the fetcher is not read while the
 * forwarder's queue is full.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "date.h"
#include "frame.h"
#include "log.h"
#include "sandbox.h"
#include "sk.h"
#include "tools.h"
#include "util.h"

/* Bytes waiting for the forwarder before the fetcher is read no further:
 * the pipes (pipe_grow) buffer more; a larger queue only raised the peak
 * RSS of long runs (4 MiB: +5 MB at 1M events), not the throughput. */
#define FWD_QUEUE_MAX	(1u * 1024 * 1024)
#define WAZUH_HEADER	"1:Azure:"
#define WAZUH_EVENT_MAX 65535 /* analysisd's limit, header included */
#define DEAD_LETTER	"azure-dead-letter.jsonl"

struct peer {
	const char *name;
	int in, out;
	struct frame_reader fr;
	struct buf q; /* bytes to write */
	size_t qoff;  /* first unwritten byte of q */
};

/* A blob the fetcher reported in this window (storage). */
struct blobrec {
	char *container, *blob, *ctime;
	int64_t bytes; /* delivered up to here; -1: only still listed */
};

/* One window: HELLO ... DONE. A run has one or several (storage: one per
 * container), one after the other. */
struct run {
	char *table, *key, *query, *fallback;
	int hello, done, ok, reparse;
	int64_t overlap; /* seconds the next window reaches back */
	int64_t events, dead, duplicates; /* events: as the fetcher counts */
	struct blobrec *blobs;
	size_t nblobs, capblobs;
	char *prune_container, *prune_prefix;
	int64_t tmin, tmax; /* oldest and newest event time of the run */
	char smin[DATE_STRLEN * 2], smax[DATE_STRLEN * 2];
	int have_time;
	struct ckpt ck; /* as read at HELLO */
};

static struct db db;
static struct seen seen; /* ids of delivered events */
static volatile sig_atomic_t terminated;
static int window_tx; /* the open transaction moves a checkpoint */
static struct peer fetcher = {.name = "fetcher", .in = 0, .out = 1};
static struct peer fwd = {.name = "forwarder", .in = 4, .out = 3};
static struct run run;
static int64_t next_seq, acked; /* events numbered and acknowledged, run-wide */
static int windows;		/* windows finished */
static char dead_letter_path[4096]; /* as opened (maybe relative) */
static char dead_letter_name[4096]; /* as messages show it */
static char db_folder[4096];	    /* the database's, absolute */

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(
	    status ? stderr : stdout,
	    "usage: azure-statekeeper --db PATH [--last-dates PATH] "
	    "[--dead-letter DIR] [--check] [-d N]\n"
	    "                         [--user NAME] [--no-sandbox]\n"
	    "       azure-statekeeper --db PATH --list [--json] | --reset KEY |"
	    "\n                         --set KEY [--min DATE] [--max DATE]\n"
	    "\n"
	    "Owns azure.db (Wazuh's schema, WAL): migrates a legacy "
	    "last_dates.json, answers\n"
	    "checkpoint requests on fd 0/1, passes events to azure-forwarder "
	    "on fd 3/4 and\n"
	    "moves a checkpoint only after every event of the run was "
	    "acknowledged.\n"
	    "Events over Wazuh's 65535 bytes are appended whole to "
	    "DIR/" DEAD_LETTER "\n"
	    "(default DIR: the database's directory). --check opens the "
	    "database read-only,\n"
	    "checks it and says what it holds. Started as root, --user NAME "
	    "runs as NAME,\n"
	    "who must be able to write the database's folder. The sandbox "
	    "allows files in\n"
	    "the folders of the database, of the dead letters and of "
	    "last_dates.json only,\n"
	    "and no network; --no-sandbox turns it off (debugging only).\n"
	    "--list shows the checkpoints, --reset and --set repair one "
	    "(--list --help).\n"
	    "Exit status: 0 success, 1 failure, 100 usage error.\n");
	exit(status);
}

static size_t
peer_pending(const struct peer *p)
{
	return p->q.len - p->qoff;
}

/* Write what the pipe takes now. Returns -1 if the peer is gone. */
static int
peer_write(struct peer *p)
{
	ssize_t n = write(p->out, p->q.data + p->qoff, peer_pending(p));

	if (n == -1)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	p->qoff += (size_t)n;
	if (p->qoff == p->q.len) {
		buf_reset(&p->q);
		p->qoff = 0;
	} else if (p->qoff > (1u << 20)) {
		buf_consume(&p->q, p->qoff);
		p->qoff = 0;
	}
	return 0;
}

static void
hello(struct frame *f)
{
	char err[512], canon[DATE_STRLEN], canon2[DATE_STRLEN];
	int64_t offset, now = date_now(), t;
	int found, dirty = 0;
	char *service = frame_strdup(f, 0);

	if (run.hello)
		fatalx("protocol error from the fetcher: second HELLO");
	run.hello = 1;
	run.key = frame_strdup(f, 1);
	run.query = frame_strdup(f, 2);
	offset = frame_int(f, 3);
	run.reparse = frame_bool(f, 4);
	run.fallback = frame_strdup(f, 5);
	run.overlap = frame_int(f, 6);
	if (!db_table_ok(service) || strlen(run.key) != 32 ||
	    strspn(run.key, "0123456789abcdef") != 32 || run.overlap < 0 ||
	    run.overlap > 3660LL * 86400)
		fatalx("protocol error from the fetcher: bad HELLO");
	run.table = service;
	if (seen_key(&seen, run.table, run.key, err, sizeof(err)) == -1)
		fatalx("%s", err);
	found = db_get(&db, run.table, run.key, &run.ck, err, sizeof(err));
	if (found == 0 && *run.fallback != '\0') {
		/* A database Wazuh wrote: go on from its (shared) row. */
		found = db_get(&db, run.table, run.fallback, &run.ck, err,
			       sizeof(err));
		if (found == 1)
			log_info("%s starts from the checkpoint of %s in %s",
				 run.key, run.fallback, run.table);
		dirty = found == 1;
	}
	if (found == -1)
		fatalx("%s", err);
	if (!found) {
		/* Wazuh's new row: now - offset, or today 00:00 UTC. */
		log_info("%s was not found in the database for %s. Adding it.",
			 run.key, run.table);
		t = offset >= 0 ? now - offset * DATE_TICKS_PER_SEC
				: date_today(now);
		date_format(t, run.ck.min);
		strlcpy(run.ck.max, run.ck.min, sizeof(run.ck.max));
		dirty = 1;
	} else {
		/* Legacy forms are rewritten before any filter uses them. */
		if (date_canonical(run.ck.min, canon) == -1 ||
		    date_canonical(run.ck.max, canon2) == -1)
			fatalx(
			    "the checkpoint of %s in %s holds an invalid date "
			    "(\"%s\", \"%s\"): fix or delete that row of %s",
			    run.key, run.table, run.ck.min, run.ck.max,
			    db.path);
		dirty |= strcmp(canon, run.ck.min) != 0 ||
			 strcmp(canon2, run.ck.max) != 0;
		strlcpy(run.ck.min, canon, sizeof(run.ck.min));
		strlcpy(run.ck.max, canon2, sizeof(run.ck.max));
	}
	if (dirty && db_put(&db, run.table, run.key, run.query, &run.ck, 0, err,
			    sizeof(err)) == -1)
		fatalx("%s", err);
	log_debug("Checkpoint of %s %s: min %s, max %s", run.table, run.key,
		  run.ck.min, run.ck.max);
	if (frame_pack(&fetcher.q, FRAME_CHECKPOINT, run.ck.min, run.ck.max))
		fatalx("cannot queue CHECKPOINT");
}

/* BLOBQ -> BLOBSTATE: what was delivered of a blob (storage windows). */
static void
blob_query(struct frame *f)
{
	char *container = frame_strdup(f, 0), *blob = frame_strdup(f, 1);
	char ctime[128] = "", err[512];
	int64_t bytes = -1;
	int found;

	if (!run.hello || run.done || *run.fallback == '\0')
		fatalx("protocol error from the fetcher: BLOBQ out of order");
	found = db_blob_get(&db, run.fallback, container, blob, ctime,
			    sizeof(ctime), &bytes, err, sizeof(err));
	if (found == -1)
		fatalx("%s", err);
	if (frame_pack(&fetcher.q, FRAME_BLOBSTATE, found ? ctime : "",
		       found ? bytes : (int64_t)-1) == -1)
		fatalx("cannot queue BLOBSTATE");
	free(container);
	free(blob);
}

/* BLOB: the fetcher finished a blob; stored at the end of the window. */
static void
blob_done(struct frame *f)
{
	struct blobrec *b;

	if (!run.hello || run.done || *run.fallback == '\0')
		fatalx("protocol error from the fetcher: BLOB out of order");
	if (run.nblobs == run.capblobs) {
		run.capblobs = run.capblobs ? run.capblobs * 2 : 64;
		run.blobs =
		    reallocarray(run.blobs, run.capblobs, sizeof(*run.blobs));
		if (run.blobs == NULL)
			fatal("reallocarray");
	}
	b = &run.blobs[run.nblobs++];
	b->container = frame_strdup(f, 0);
	b->blob = frame_strdup(f, 1);
	b->ctime = frame_strdup(f, 2);
	b->bytes = frame_int(f, 3);
}

/* PRUNE: forget, at the end of the window, the blobs of a container under
 * a prefix that the fetcher did not report. */
static void
prune(struct frame *f)
{
	if (!run.hello || run.done || *run.fallback == '\0' ||
	    run.prune_container != NULL)
		fatalx("protocol error from the fetcher: PRUNE out of order");
	run.prune_container = frame_strdup(f, 0);
	run.prune_prefix = frame_strdup(f, 1);
}

/*
 * Note the event's time (a raw Azure string) for the checkpoint. Returns
 * it in ticks with *timed = 1, or now when it is not a date (an id is then
 * remembered for at least the overlap from now) with *timed = 0.
 */
static int64_t
note_time(const char *s, size_t len, int *timed)
{
	char tmp[DATE_STRLEN * 2];
	int64_t t;

	*timed = 0;
	if (len == 0 || len >= sizeof(tmp))
		return date_now();
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (date_parse(tmp, &t) == -1) {
		log_warnx("event time \"%s\" is not a date: it does not move "
			  "the checkpoint",
			  tmp);
		return date_now();
	}
	*timed = 1;
	if (!run.have_time || t < run.tmin) {
		run.tmin = t;
		strlcpy(run.smin, tmp, sizeof(run.smin));
	}
	if (!run.have_time || t > run.tmax) {
		run.tmax = t;
		strlcpy(run.smax, tmp, sizeof(run.smax));
	}
	run.have_time = 1;
	return t;
}

/*
 * An event Wazuh cannot take whole (its limit is 65535 bytes with the
 * "1:Azure:" header) is appended to the dead-letter file, one JSON text per
 * line, and synced before it counts as handled: never cut, never dropped.
 */
static void
dead_letter(const struct frame *f, const char *body, size_t len,
	    const uint8_t *h, int64_t sk, int64_t t)
{
	static int fd = -1;
	char *id = frame_strdup(f, 1), err[512];

	if (fd == -1) {
		fd =
		    open(dead_letter_path,
			 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
			 0600);
		if (fd == -1)
			fatal("cannot open the dead-letter file %s",
			      dead_letter_name);
	}
	if (write_all(fd, body, len) == -1 || write_all(fd, "\n", 1) == -1 ||
	    fsync(fd) == -1)
		fatal("cannot write the dead-letter file %s", dead_letter_name);
	log_warnx("event %s of %zu bytes is over Wazuh's limit of %d bytes: "
		  "written whole to %s",
		  *id ? id : "(no id)", len, WAZUH_EVENT_MAX, dead_letter_name);
	free(id);
	run.dead++;
	if (h != NULL &&
	    (seen_record(&seen, h, sk, t, err, sizeof(err)) == -1 ||
	     db_commit(&db, err, sizeof(err)) == -1))
		fatalx("%s", err);
}

/*
 * An event: dropped if its id was delivered before (unless --reparse asks
 * for everything again), dead-lettered when Wazuh cannot take it, else
 * numbered and queued for the forwarder.
 */
static void
event(struct frame *f)
{
	const msgpack_object_str *id = &f->field[1].via.str;
	uint8_t h[SEEN_IDLEN];
	const char *body;
	char err[512];
	size_t len;
	int64_t t, sk = 0;
	int known = 0, timed;

	if (!run.hello || run.done)
		fatalx("protocol error from the fetcher: EVENT out of order");
	t = note_time(f->field[0].via.str.ptr, f->field[0].via.str.size,
		      &timed);
	body = frame_bin(f, 2, &len);
	run.events++;
	if (id->size > 0) {
		md5_raw(id->ptr, id->size, h);
		sk = seen_sort_key(id->ptr, id->size, t, timed);
		if (!run.reparse &&
		    (known = seen_known(&seen, h, sk, err, sizeof(err))) == -1)
			fatalx("%s", err);
	}
	if (known) {
		run.duplicates++;
		log_debug("event %.*s was delivered before: dropped",
			  (int)id->size, id->ptr);
		return;
	}
	if (len > WAZUH_EVENT_MAX - strlen(WAZUH_HEADER)) {
		dead_letter(f, body, len, id->size > 0 ? h : NULL, sk, t);
		return;
	}
	if (frame_pack(&fwd.q, FRAME_FWD, next_seq + 1, body, len) == -1)
		fatalx("cannot queue an event for the forwarder");
	next_seq++;
	seen_sent(&seen, next_seq, id->size > 0 ? h : NULL, sk, t);
}

/*
 * Handle the frames the fetcher sent, while the forwarder has room and the
 * current window is not waiting to be finished.
 */
static void
fetcher_frames(void)
{
	const char *errstr = NULL;
	struct frame f;
	int rc;

	while (!run.done && peer_pending(&fwd) < FWD_QUEUE_MAX &&
	       (rc = frame_next(&fetcher.fr, &f, &errstr)) != 0) {
		if (rc == -1)
			fatalx("protocol error from the fetcher: %s", errstr);
		switch (f.type) {
		case FRAME_HELLO:
			hello(&f);
			break;
		case FRAME_EVENT:
			event(&f);
			break;
		case FRAME_BLOBQ:
			blob_query(&f);
			break;
		case FRAME_BLOB:
			blob_done(&f);
			break;
		case FRAME_PRUNE:
			prune(&f);
			break;
		case FRAME_DONE:
			if (!run.hello || run.done)
				fatalx("protocol error from the fetcher: DONE "
				       "out of order");
			run.done = 1;
			run.ok = frame_bool(&f, 0);
			if (frame_int(&f, 1) != run.events)
				fatalx("the fetcher counted %lld events, "
				       "%lld arrived",
				       (long long)frame_int(&f, 1),
				       (long long)run.events);
			break;
		default:
			fatalx("protocol error from the fetcher: unexpected %s",
			       frame_type_name(f.type));
		}
		frame_free(&f);
	}
}

static void
forwarder_frames(void)
{
	const char *errstr = NULL;
	char err[512];
	struct frame f;
	int rc;
	int64_t seq;

	while ((rc = frame_next(&fwd.fr, &f, &errstr)) != 0) {
		if (rc == -1)
			fatalx("protocol error from the forwarder: %s", errstr);
		if (f.type != FRAME_ACK)
			fatalx(
			    "protocol error from the forwarder: unexpected %s",
			    frame_type_name(f.type));
		seq = frame_int(&f, 0);
		if (seq < acked || seq > next_seq)
			fatalx("protocol error from the forwarder: ACK %lld "
			       "out of range",
			       (long long)seq);
		acked = seq;
		if (seen_acked(&seen, seq, err, sizeof(err)) == -1)
			fatalx("%s", err);
		frame_free(&f);
	}
}

/* No window will reach back past max - overlap: forget older ids. */
static void
prune_seen(int64_t max)
{
	char err[512];

	if (seen_prune(&seen, max - run.overlap * DATE_TICKS_PER_SEC, err,
		       sizeof(err)) == -1)
		fatalx("%s", err);
}

/*
 * The window is complete and delivered: widen the checkpoint to the oldest
 * and newest event times, as Wazuh's update_row_object() does.
 */
static void
commit_checkpoint(void)
{
	struct ckpt c = run.ck;
	char err[512];
	int64_t omin, omax;

	if (date_parse(c.min, &omin) == -1 || date_parse(c.max, &omax) == -1)
		fatalx("invalid checkpoint in memory");
	if (!run.have_time) {
		log_info("No event moved the checkpoint of %s %s", run.table,
			 run.key);
		prune_seen(omax);
		return;
	}
	if (run.tmin < omin)
		strlcpy(c.min, run.smin, sizeof(c.min));
	if (run.tmax > omax)
		strlcpy(c.max, run.smax, sizeof(c.max));
	prune_seen(run.tmax > omax ? run.tmax : omax);
	if (strcmp(c.min, run.ck.min) == 0 && strcmp(c.max, run.ck.max) == 0)
		return;
	log_debug("Attempting to update a %s row object. MD5: \"%s\", "
		  "min_date: \"%s\", max_date: \"%s\"",
		  run.table, run.key, c.min, c.max);
	if (db_put(&db, run.table, run.key, run.query, &c, 0, err,
		   sizeof(err)) == -1)
		fatalx("%s", err);
}

/* What was delivered of each blob, and the blobs no longer listed. */
static void
commit_blobs(void)
{
	char err[512], **keep;
	struct blobrec *b;
	size_t i, n = 0;

	for (i = 0; i < run.nblobs; i++) {
		b = &run.blobs[i];
		if (b->bytes >= 0 &&
		    db_blob_put(&db, run.fallback, b->container, b->blob,
				b->ctime, b->bytes, err, sizeof(err)) == -1)
			fatalx("%s", err);
	}
	if (run.prune_container == NULL)
		return;
	keep = xcalloc(run.nblobs, sizeof(*keep));
	for (i = 0; i < run.nblobs; i++)
		if (strcmp(run.blobs[i].container, run.prune_container) == 0)
			keep[n++] = run.blobs[i].blob;
	if (db_blob_prune(&db, run.fallback, run.prune_container,
			  run.prune_prefix, keep, n, err, sizeof(err)) == -1)
		fatalx("%s", err);
	free(keep);
}

/*
 * The window ended (DONE) and every event of it was acknowledged: move its
 * checkpoint and blob offsets in one transaction, if the fetcher completed
 * it. Returns 0, or -1 when the window was not complete.
 */
static int
finish_window(void)
{
	char err[512];
	int rc = 0;

	log_info("%s %s: %lld events fetched, %lld delivered, %lld "
		 "duplicates dropped, %lld dead-lettered",
		 run.table, run.key, (long long)run.events,
		 (long long)(run.events - run.duplicates - run.dead),
		 (long long)run.duplicates, (long long)run.dead);
	if (!run.ok) {
		log_warnx("the fetcher did not complete its window; the "
			  "checkpoint of %s %s stays where it was",
			  run.table, run.key);
		rc = -1;
	} else {
		/* The ids first, then the checkpoint and the offsets in a
		 * transaction of their own: all of it, or none of it. */
		if (db_commit(&db, err, sizeof(err)) == -1 ||
		    db_begin(&db, err, sizeof(err)) == -1)
			fatalx("%s", err);
		window_tx = 1;
		commit_checkpoint();
		commit_blobs();
	}
	if (db_commit(&db, err, sizeof(err)) == -1)
		fatalx("%s", err);
	window_tx = 0;
	windows++;
	return rc;
}

static void
reset_window(void)
{
	size_t i;

	for (i = 0; i < run.nblobs; i++) {
		free(run.blobs[i].container);
		free(run.blobs[i].blob);
		free(run.blobs[i].ctime);
	}
	free(run.blobs);
	free(run.table);
	free(run.key);
	free(run.query);
	free(run.fallback);
	free(run.prune_container);
	free(run.prune_prefix);
	memset(&run, 0, sizeof(run));
}

static void
read_peer(struct peer *p)
{
	if (frame_reader_fill(&p->fr, p->in) == -1 && errno != EAGAIN)
		fatal("read from the %s", p->name);
	if (p->fr.eof && frame_pending(&p->fr) && p == &fwd)
		fatalx("the forwarder sent a truncated frame");
}

/*
 * The forwarder ended before it was told to (Wazuh's socket went away, or
 * it was killed): take its last acknowledgements, so that what Wazuh got
 * is remembered, and say what was not delivered. Returns 1.
 */
static int
forwarder_gone(void)
{
	long n;

	do
		n = frame_reader_fill(&fwd.fr, fwd.in);
	while (n > 0);
	forwarder_frames();
	log_errorx("the forwarder stopped (its message above says why): %lld "
		   "events delivered, %lld not; the checkpoint stays where it "
		   "was and the next run sends the rest",
		   (long long)acked, (long long)(next_seq - acked));
	return 1;
}

/*
 * Terminated (the launcher stops every role when one fails, or Wazuh's
 * modules daemon stops): pass nothing more on, let the forwarder finish
 * the events already in its pipe for up to STOP_WAIT_MS and take its
 * acknowledgements, so that what Wazuh got is remembered. Returns 1.
 */
#define STOP_WAIT_MS 2000
static int
stop_forwarder(void)
{
	int64_t until = date_now() + STOP_WAIT_MS * (DATE_TICKS_PER_SEC / 1000);
	struct pollfd pfd;
	int64_t left;

	close(fwd.out);
	fwd.out = -1;
	while (!fwd.fr.eof && (left = until - date_now()) > 0) {
		pfd = (struct pollfd){.fd = fwd.in, .events = POLLIN};
		if (poll(&pfd, 1,
			 (int)(left / (DATE_TICKS_PER_SEC / 1000)) + 1) == -1 &&
		    errno != EINTR)
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (frame_reader_fill(&fwd.fr, fwd.in) == -1 &&
			    errno != EAGAIN && errno != EINTR)
				break;
			forwarder_frames();
		}
	}
	log_info("terminated by a signal; %lld events were delivered, the "
		 "checkpoint stays where it was",
		 (long long)acked);
	return 1;
}

/*
 * The loop. Returns the exit status: 0 when every window the fetcher
 * opened (perhaps none: an account without containers) was complete and
 * delivered, its checkpoint committed; 1 otherwise.
 */
static int
loop(void)
{
	struct pollfd pfd[4];
	char err[512];
	int failed = 0;

	for (;;) {
		fetcher_frames();
		forwarder_frames();
		if (seen_commit_due(&seen, date_now(), acked == next_seq) &&
		    db_commit(&db, err, sizeof(err)) == -1)
			fatalx("%s", err);
		if (terminated)
			return stop_forwarder();
		if (fwd.fr.eof) /* it ends only after we close its pipe */
			return forwarder_gone();
		if (run.done && acked == next_seq && peer_pending(&fwd) == 0) {
			if (finish_window() == -1)
				failed = 1;
			reset_window();
			continue; /* the next window may be buffered already */
		}
		if (fetcher.fr.eof && !frame_pending(&fetcher.fr) &&
		    acked == next_seq && peer_pending(&fwd) == 0)
			break;
		if (fetcher.fr.eof && !run.done && frame_pending(&fetcher.fr) &&
		    peer_pending(&fwd) < FWD_QUEUE_MAX) {
			/* Killed while writing: what came before is still
			 * delivered and remembered; the window stays open. */
			log_errorx("the fetcher's last frame was cut short: "
				   "dropped");
			buf_reset(&fetcher.fr.b);
			fetcher.fr.pos = 0;
			continue;
		}
		pfd[0] = (struct pollfd){.fd = -1};
		pfd[1] = (struct pollfd){.fd = -1};
		pfd[2] = (struct pollfd){.fd = -1};
		pfd[3] = (struct pollfd){.fd = fwd.in, .events = POLLIN};
		if (!fetcher.fr.eof && !run.done &&
		    peer_pending(&fwd) < FWD_QUEUE_MAX)
			pfd[0] =
			    (struct pollfd){.fd = fetcher.in, .events = POLLIN};
		if (peer_pending(&fetcher))
			pfd[1] = (struct pollfd){.fd = fetcher.out,
						 .events = POLLOUT};
		if (peer_pending(&fwd))
			pfd[2] =
			    (struct pollfd){.fd = fwd.out, .events = POLLOUT};
		if (poll(pfd, 4,
			 seen_commit_wait(&seen, date_now(),
					  acked == next_seq)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_peer(&fetcher);
		if (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP) &&
		    peer_write(&fetcher) == -1) {
			/* It is gone: its end of the pipe tells the rest. */
			buf_reset(&fetcher.q);
			fetcher.qoff = 0;
		}
		if (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP) &&
		    peer_write(&fwd) == -1)
			return forwarder_gone();
		if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR))
			read_peer(&fwd);
	}
	if (run.hello) {
		log_errorx(
		    "the fetcher ended before finishing its window; %lld "
		    "events were delivered, the checkpoint stays where "
		    "it was",
		    (long long)(run.events - run.duplicates - run.dead));
		return 1;
	}
	if (windows == 0) /* its own status says why (or: nothing to read) */
		log_debug("the fetcher ended without asking for a checkpoint");
	return failed;
}

static void
on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

/*
 * However the statekeeper ends (even by fatalx()), the ids of what was
 * acknowledged are kept; a checkpoint whose transaction did not finish is
 * not (SQLite rolls it back when the handle closes).
 */
static void
commit_at_exit(void)
{
	char err[512];

	if (db.h != NULL && db.tx && !window_tx &&
	    db_commit(&db, err, sizeof(err)) == -1)
		log_warnx("%s", err);
}

/* The folder of PATH (which may be NULL: NULL) into DIR. */
static const char *
folder_of(const char *path, char *dir, size_t len)
{
	const char *slash;

	if (path == NULL)
		return NULL;
	if ((slash = strrchr(path, '/')) == NULL)
		return ".";
	if (slash == path)
		return "/";
	if ((size_t)(slash - path) >= len)
		usage_error("%s: path too long", path);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return dir;
}

/*
 * PATH relative to the database's folder (whose stat is HERE) when it is
 * there; otherwise absolute. Into BUF; PATH may be NULL (NULL).
 */
static const char *
relocate(const char *path, const struct stat *here, char *buf, size_t len)
{
	char dir[4096], abs[PATH_MAX];
	const char *d, *base;
	struct stat st;

	if (path == NULL)
		return NULL;
	d = folder_of(path, dir, sizeof(dir));
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (stat(d, &st) == 0 && st.st_dev == here->st_dev &&
	    st.st_ino == here->st_ino)
		strlcpy(buf, base, len);
	else if (path[0] != '/' && realpath(d, abs) != NULL) {
		if (snprintf(buf, len, "%s/%s", abs, base) >= (int)len)
			usage_error("%s: path too long", path);
	} else
		strlcpy(buf, path, len);
	return buf;
}

/*
 * Work in the database's folder, entered now (as root, if so started):
 * Wazuh's folders above it are 0750 root:wazuh, closed to the
 * statekeeper's user, and files are then named relative to it. The
 * database, the dead letters and last_dates.json are renamed accordingly.
 */
static void
enter_db_folder(const char **dbpath, const char **last_dates)
{
	static char db_rel[4096], ld_rel[4096];
	char dir[4096], dead[4096];
	const char *d = folder_of(*dbpath, dir, sizeof(dir));
	struct stat here;

	if (stat(d, &here) == -1 || realpath(d, db_folder) == NULL)
		fatal("cannot enter the database's folder %s", d);
	strlcpy(dead, dead_letter_path, sizeof(dead));
	if (dead[0] != '\0')
		relocate(dead, &here, dead_letter_path,
			 sizeof(dead_letter_path));
	*last_dates = relocate(*last_dates, &here, ld_rel, sizeof(ld_rel));
	relocate(*dbpath, &here, db_rel, sizeof(db_rel));
	*dbpath = db_rel;
	if (chdir(d) == -1)
		fatal("cannot enter the database's folder %s", d);
	if (db_in_folder(db_folder) == -1)
		fatalx("SQLite has no unix VFS");
}

/*
 * Become USER, then keep to the folders of the database, the dead letters
 * and last_dates.json (SQLite's -wal and -shm files are made beside the
 * database; last_dates.json is removed once migrated).
 */
static void
drop_and_enter(const char *user, const char *dbpath, const char *dead,
	       const char *last_dates, int no_sandbox)
{
	char d1[4096], d2[4096], d3[4096];
	struct sandbox_path p[4];
	size_t n = 0;

	priv_drop(user);
	p[n++] = (struct sandbox_path){folder_of(dbpath, d1, sizeof(d1)),
				       SANDBOX_READ_WRITE};
	if (access(p[0].path, W_OK | X_OK) == -1)
		fatalx("the database's folder %s cannot be written by user "
		       "%s (uid %lu): %s",
		       db_folder, user ? user : "running azure-statekeeper",
		       (unsigned long)geteuid(), strerror(errno));
	if (dead != NULL)
		p[n++] = (struct sandbox_path){folder_of(dead, d2, sizeof(d2)),
					       SANDBOX_READ_WRITE};
	if (last_dates != NULL)
		p[n++] = (struct sandbox_path){
		    folder_of(last_dates, d3, sizeof(d3)), SANDBOX_READ_WRITE};
	/* SQLite seeds its random numbers from it. */
	p[n++] = (struct sandbox_path){"/dev/urandom", SANDBOX_READ};
	sandbox_enter(SANDBOX_STATEKEEPER, p, n, no_sandbox);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	static const struct option lopts[] = {
	    {"db", required_argument, NULL, 'b'},
	    {"last-dates", required_argument, NULL, 'l'},
	    {"dead-letter", required_argument, NULL, 'D'},
	    {"debug", required_argument, NULL, 'd'},
	    {"check", no_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"no-sandbox", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *dbpath = NULL, *last_dates = NULL, *dead_dir = NULL;
	const char *user = NULL, *shown;
	int check = 0, no_sandbox = 0;
	const char *errstr, *slash;
	char err[1024];
	int c, debug = 0, status;

	if (tools_wanted(argc, argv)) /* --list, --reset, --set: tools.c */
		return tools_main(argc, argv);
	while ((c = getopt_long(argc, argv, "d:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			dbpath = optarg;
			break;
		case 'l':
			last_dates = optarg;
			break;
		case 'D':
			dead_dir = optarg;
			break;
		case 'd':
			debug = (int)strtonum(optarg, 0, 2, &errstr);
			if (errstr)
				usage_error("-d %s: must be 0, 1 or 2", optarg);
			break;
		case 'c':
			check = 1;
			break;
		case 'u':
			user = optarg;
			break;
		case 'S':
			no_sandbox = 1;
			break;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind != argc || dbpath == NULL)
		usage(EXIT_USAGE);
	if (check) { /* nothing is created or changed */
		log_init("azure-statekeeper", debug);
		shown = last_dates;
		enter_db_folder(&dbpath, &last_dates);
		drop_and_enter(user, dbpath, NULL, last_dates, no_sandbox);
		if (db_check(dbpath, err, sizeof(err)) == -1) {
			log_errorx("%s", err);
			return EXIT_RUNTIME;
		}
		if (last_dates != NULL && access(last_dates, F_OK) == 0)
			printf("ok: %s will be migrated into the database at "
			       "the first run\n",
			       shown);
		return 0;
	}
	if (dead_dir != NULL)
		c = snprintf(dead_letter_path, sizeof(dead_letter_path),
			     "%s/%s", dead_dir, DEAD_LETTER);
	else if ((slash = strrchr(dbpath, '/')) != NULL)
		c = snprintf(dead_letter_path, sizeof(dead_letter_path),
			     "%.*s/%s", (int)(slash - dbpath), dbpath,
			     DEAD_LETTER);
	else
		c = snprintf(dead_letter_path, sizeof(dead_letter_path), "%s",
			     DEAD_LETTER);
	if (c < 0 || (size_t)c >= sizeof(dead_letter_path))
		usage_error("--dead-letter: path too long");
	strlcpy(dead_letter_name, dead_letter_path, sizeof(dead_letter_name));
	log_init("azure-statekeeper", debug);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: poll() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Larger pipes: fewer reads and writes per event, and a fetcher
	 * (storage: the next blobs) goes on while we work through a burst. */
	pipe_grow(fetcher.in);
	pipe_grow(fwd.out);
	pipe_grow(fwd.in);
	shown = last_dates;
	enter_db_folder(&dbpath, &last_dates);
	drop_and_enter(user, dbpath, dead_letter_path, last_dates, no_sandbox);

	log_info("Checking database integrity");
	if (db_open(&db, dbpath, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (last_dates != NULL &&
	    migrate_last_dates(&db, last_dates, date_now(), err, sizeof(err)) ==
		-1) {
		log_errorx("Error during last_dates file migration process: %s",
			   err);
		log_errorx("%s was kept; fix or remove it", shown);
		db_close(&db);
		return EXIT_RUNTIME;
	}
	log_info("Database integrity check finished");
	if (seen_open(&seen, &db, err, sizeof(err)) == -1)
		fatalx("%s", err);
	atexit(commit_at_exit);

	frame_reader_init(&fetcher.fr);
	frame_reader_init(&fwd.fr);
	buf_init(&fetcher.q, 1u << 20);
	/* Room for a full queue, a largest frame and the written bytes
	 * peer_write() keeps until they pass 1 MiB. */
	buf_init(&fwd.q, FWD_QUEUE_MAX + FRAME_MAX + (1u << 20) + 64);
	if (set_nonblock(fetcher.in) == -1 || set_nonblock(fetcher.out) == -1 ||
	    set_nonblock(fwd.in) == -1 || set_nonblock(fwd.out) == -1)
		fatal("the statekeeper's descriptors 0, 1, 3 and 4 must be "
		      "open");
	status = loop();
	close(fwd.out); /* the forwarder sees the end and exits */
	commit_at_exit();
	seen_close(&seen);
	db_close(&db);
	frame_reader_free(&fetcher.fr);
	frame_reader_free(&fwd.fr);
	buf_free(&fetcher.q);
	buf_free(&fwd.q);
	reset_window();
	return status;
}

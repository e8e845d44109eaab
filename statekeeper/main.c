/*
 * azure-statekeeper: the only process that opens azure.db. It answers the
 * fetchers' checkpoint requests, numbers the fetchers' events and passes
 * them to the forwarder, and moves a checkpoint only once its fetcher
 * finished the window and the forwarder acknowledged every event of it.
 *
 * Descriptors (docs/internals.md): 0 from the fetcher, 1 to the fetcher,
 * 3 to the forwarder, 4 from the forwarder; with --fifos DIR --requests M,
 * M channels instead of fds 0/1, channel i on the FIFOs DIR/f2s.i (frames
 * from its fetcher) and DIR/s2f.i (replies). One poll loop; POLLOUT is
 * asked only when a queue holds data, the fetchers are read in turn and
 * not at all while the forwarder's queue is full; a fetcher is not read
 * while its replies pile up unread (a fetcher whose queue still
 * overflows ends as broken, the others go on).
 *
 * Channels share the database (one connection, one open transaction), the
 * forwarder and its sequence numbers; each has its window and its part of
 * the de-duplication state (seen.c). Two channels never run a window of
 * the same checkpoint row at once: the second HELLO gets its CHECKPOINT
 * once the first window is finished (the key lock).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

/* Bytes waiting for the forwarder before the fetchers are read no further:
 * the pipes (pipe_grow) buffer more; a larger queue only raised the peak
 * RSS of long runs (4 MiB: +5 MB at 1M events), not the throughput. */
#define FWD_QUEUE_MAX	(1u * 1024 * 1024)
#define WAZUH_HEADER	"1:Azure:"
#define WAZUH_EVENT_MAX 65535 /* analysisd's limit, header included */
#define DEAD_LETTER	"azure-dead-letter.jsonl"
#define REQUESTS_MAX	500 /* channels: two descriptors each */
#define TURN_FRAMES	64  /* frames of a channel before the next one's */
/* Replies waiting for a fetcher before its frames are read no further (it
 * reads them in order: a storage fetcher asks 64 blobs ahead, a few KiB);
 * its queue (1 MiB) stays below what frame_pack() refuses. */
#define CHAN_QUEUE_MAX (256u * 1024)

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
	int64_t offset;	 /* HELLO's, for a new row */
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

/* A fetcher: fds 0/1, or the FIFOs of channel no. */
struct chan {
	int no;
	char name[32]; /* in messages: "fetcher", or "fetcher 3" */
	struct peer p;
	struct run run;
	struct seen *seen; /* from its first HELLO to its end */
	int64_t last_seq;  /* the last event it numbered */
	int waiting;	   /* its HELLO waits for the key lock */
	int holds;	   /* it holds the key lock of run's row */
	int throttled;	   /* its replies pile up unread: not read */
	int slow;	   /* that was said */
	int broken;	   /* read no more (a protocol error) */
	int ended;	   /* over: descriptors closed, memory freed */
	int failed;	   /* a window of it was not complete */
	int windows;	   /* windows finished */
};

static struct db db;
static struct seen_store store; /* what the channels' seen states share */
static volatile sig_atomic_t terminated;
static int window_tx; /* the open transaction moves a checkpoint */
static struct chan *chans;
static int nchans, turn; /* turn: the channel read first next time */
static struct peer fwd = {.name = "forwarder", .in = 4, .out = 3};
static int64_t next_seq, acked;	    /* events numbered and acknowledged */
static char dead_letter_path[4096]; /* as opened (maybe relative) */
static char dead_letter_name[4096]; /* as messages show it */
static char db_folder[4096];	    /* the database's, absolute */

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(
	    status ? stderr : stdout,
	    "usage: azure-statekeeper --db PATH [--last-dates PATH] "
	    "[--dead-letter DIR] [--check] [-d N]\n"
	    "                         [--fifos DIR --requests M] "
	    "[--user NAME] [--no-sandbox]\n"
	    "       azure-statekeeper --db PATH --list [--json] | --reset KEY |"
	    "\n                         --set KEY [--min DATE] [--max DATE]\n"
	    "\n"
	    "Owns azure.db (Wazuh's schema, WAL): migrates a legacy "
	    "last_dates.json, answers\n"
	    "checkpoint requests on fd 0/1, passes events to azure-forwarder "
	    "on fd 3/4 and\n"
	    "moves a checkpoint only after every event of the run was "
	    "acknowledged.\n"
	    "--fifos DIR --requests M serves M fetchers at once instead of fd "
	    "0/1: fetcher i\n"
	    "writes to the FIFO DIR/f2s.i and reads DIR/s2f.i (i = 1..M, made "
	    "by the caller);\n"
	    "two requests of the same checkpoint take turns. "
	    "Events over Wazuh's 65535 bytes\n"
	    "are appended whole to DIR/" DEAD_LETTER " (--dead-letter DIR; "
	    "default: the\n"
	    "database's directory). --check opens the "
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
	    "Exit status: 0 every window complete, 1 failure, 100 usage "
	    "error.\n");
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

/*
 * The channel's fetcher failed the protocol (or its checkpoint row is
 * unusable): say why; the channel reads no more. Its window stays open
 * (the checkpoint where it was); its events in flight are still
 * acknowledged and remembered before the channel ends.
 */
static void __attribute__((format(printf, 2, 3)))
chan_fail(struct chan *ch, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ch->broken)
		log_errorx("%s", msg);
	ch->broken = 1;
	ch->failed = 1;
}

/* The channel whose open window (or one waiting to be finished) is of the
 * checkpoint row ch asks for, or NULL. */
static struct chan *
key_holder(const struct chan *ch)
{
	const struct run *r = &ch->run;
	int i;

	for (i = 0; i < nchans; i++) {
		struct chan *c = &chans[i];

		if (c != ch && !c->ended && c->holds &&
		    strcmp(c->run.table, r->table) == 0 &&
		    strcmp(c->run.key, r->key) == 0)
			return c;
	}
	return NULL;
}

/* HELLO's checkpoint row is free: read it (or make it) and answer. */
static void
open_window(struct chan *ch)
{
	char err[512], canon[DATE_STRLEN], canon2[DATE_STRLEN];
	struct run *r = &ch->run;
	int64_t now = date_now(), t;
	int found, dirty = 0;

	ch->waiting = 0;
	ch->holds = 1; /* until close_window() */
	if (ch->seen == NULL) {
		ch->seen = xcalloc(1, sizeof(*ch->seen));
		seen_init(ch->seen, &store);
	}
	if (seen_key(ch->seen, r->table, r->key, err, sizeof(err)) == -1)
		fatalx("%s", err);
	found = db_get(&db, r->table, r->key, &r->ck, err, sizeof(err));
	if (found == 0 && *r->fallback != '\0') {
		/* A database Wazuh wrote: go on from its (shared) row. */
		found = db_get(&db, r->table, r->fallback, &r->ck, err,
			       sizeof(err));
		if (found == 1)
			log_info("%s starts from the checkpoint of %s in %s",
				 r->key, r->fallback, r->table);
		dirty = found == 1;
	}
	if (found == -1)
		fatalx("%s", err);
	if (!found) {
		/* Wazuh's new row: now - offset, or today 00:00 UTC. */
		log_info("%s was not found in the database for %s. Adding it.",
			 r->key, r->table);
		t = r->offset >= 0 ? now - r->offset * DATE_TICKS_PER_SEC
				   : date_today(now);
		date_format(t, r->ck.min);
		strlcpy(r->ck.max, r->ck.min, sizeof(r->ck.max));
		dirty = 1;
	} else {
		/* Legacy forms are rewritten before any filter uses them. */
		if (date_canonical(r->ck.min, canon) == -1 ||
		    date_canonical(r->ck.max, canon2) == -1) {
			chan_fail(ch,
				  "the checkpoint of %s in %s holds an invalid "
				  "date (\"%s\", \"%s\"): fix or delete that "
				  "row of %s",
				  r->key, r->table, r->ck.min, r->ck.max,
				  db.path);
			return;
		}
		dirty |= strcmp(canon, r->ck.min) != 0 ||
			 strcmp(canon2, r->ck.max) != 0;
		strlcpy(r->ck.min, canon, sizeof(r->ck.min));
		strlcpy(r->ck.max, canon2, sizeof(r->ck.max));
	}
	if (dirty && db_put(&db, r->table, r->key, r->query, &r->ck, 0, err,
			    sizeof(err)) == -1)
		fatalx("%s", err);
	log_debug("Checkpoint of %s %s: min %s, max %s", r->table, r->key,
		  r->ck.min, r->ck.max);
	if (frame_pack(&ch->p.q, FRAME_CHECKPOINT, r->ck.min, r->ck.max))
		chan_fail(ch,
			  "cannot queue CHECKPOINT for the %s: it does "
			  "not read its replies",
			  ch->name);
}

static void
hello(struct chan *ch, struct frame *f)
{
	struct run *r = &ch->run;
	struct chan *other;

	if (r->hello) {
		chan_fail(ch, "protocol error from the %s: second HELLO",
			  ch->name);
		return;
	}
	r->hello = 1;
	r->table = frame_strdup(f, 0);
	r->key = frame_strdup(f, 1);
	r->query = frame_strdup(f, 2);
	r->offset = frame_int(f, 3);
	r->reparse = frame_bool(f, 4);
	r->fallback = frame_strdup(f, 5);
	r->overlap = frame_int(f, 6);
	if (!db_table_ok(r->table) || strlen(r->key) != 32 ||
	    strspn(r->key, "0123456789abcdef") != 32 || r->overlap < 0 ||
	    r->overlap > 3660LL * 86400) {
		chan_fail(ch, "protocol error from the %s: bad HELLO",
			  ch->name);
		return;
	}
	if ((other = key_holder(ch)) != NULL) {
		/* Its CHECKPOINT comes once that window is finished: it
		 * starts where that one left the row. */
		ch->waiting = 1;
		log_debug("the %s waits for the %s to finish its window of "
			  "%s %s",
			  ch->name, other->name, r->table, r->key);
		return;
	}
	open_window(ch);
}

/* BLOBQ -> BLOBSTATE: what was delivered of a blob (storage windows). */
static void
blob_query(struct chan *ch, struct frame *f)
{
	struct run *r = &ch->run;
	char *container, *blob, ctime[128] = "", err[512];
	int64_t bytes = -1;
	int found;

	if (!r->hello || r->done || *r->fallback == '\0') {
		chan_fail(ch, "protocol error from the %s: BLOBQ out of order",
			  ch->name);
		return;
	}
	container = frame_strdup(f, 0);
	blob = frame_strdup(f, 1);
	found = db_blob_get(&db, r->fallback, container, blob, ctime,
			    sizeof(ctime), &bytes, err, sizeof(err));
	if (found == -1)
		fatalx("%s", err);
	if (frame_pack(&ch->p.q, FRAME_BLOBSTATE, found ? ctime : "",
		       found ? bytes : (int64_t)-1) == -1)
		chan_fail(ch,
			  "cannot queue BLOBSTATE for the %s: it does "
			  "not read its replies",
			  ch->name);
	free(container);
	free(blob);
}

/* BLOB: the fetcher finished a blob; stored at the end of the window. */
static void
blob_done(struct chan *ch, struct frame *f)
{
	struct run *r = &ch->run;
	struct blobrec *b;

	if (!r->hello || r->done || *r->fallback == '\0') {
		chan_fail(ch, "protocol error from the %s: BLOB out of order",
			  ch->name);
		return;
	}
	if (r->nblobs == r->capblobs) {
		r->capblobs = r->capblobs ? r->capblobs * 2 : 64;
		r->blobs =
		    reallocarray(r->blobs, r->capblobs, sizeof(*r->blobs));
		if (r->blobs == NULL)
			fatal("reallocarray");
	}
	b = &r->blobs[r->nblobs++];
	b->container = frame_strdup(f, 0);
	b->blob = frame_strdup(f, 1);
	b->ctime = frame_strdup(f, 2);
	b->bytes = frame_int(f, 3);
}

/* PRUNE: forget, at the end of the window, the blobs of a container under
 * a prefix that the fetcher did not report. */
static void
prune(struct chan *ch, struct frame *f)
{
	struct run *r = &ch->run;

	if (!r->hello || r->done || *r->fallback == '\0' ||
	    r->prune_container != NULL) {
		chan_fail(ch, "protocol error from the %s: PRUNE out of order",
			  ch->name);
		return;
	}
	r->prune_container = frame_strdup(f, 0);
	r->prune_prefix = frame_strdup(f, 1);
}

/*
 * Note the event's time (a raw Azure string) for the checkpoint. Returns
 * it in ticks with *timed = 1, or now when it is not a date (an id is then
 * remembered for at least the overlap from now) with *timed = 0.
 */
static int64_t
note_time(struct run *r, const char *s, size_t len, int *timed)
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
	if (!r->have_time || t < r->tmin) {
		r->tmin = t;
		strlcpy(r->smin, tmp, sizeof(r->smin));
	}
	if (!r->have_time || t > r->tmax) {
		r->tmax = t;
		strlcpy(r->smax, tmp, sizeof(r->smax));
	}
	r->have_time = 1;
	return t;
}

/*
 * An event Wazuh cannot take whole (its limit is 65535 bytes with the
 * "1:Azure:" header) is appended to the dead-letter file, one JSON text per
 * line, and synced before it counts as handled: never cut, never dropped.
 */
static void
dead_letter(struct chan *ch, const struct frame *f, const char *body,
	    size_t len, const uint8_t *h, int64_t sk, int64_t t)
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
	ch->run.dead++;
	if (h != NULL &&
	    (seen_record(ch->seen, h, sk, t, err, sizeof(err)) == -1 ||
	     db_commit(&db, err, sizeof(err)) == -1))
		fatalx("%s", err);
}

/*
 * An event: dropped if its id was delivered before (unless --reparse asks
 * for everything again), dead-lettered when Wazuh cannot take it, else
 * numbered and queued for the forwarder.
 */
static void
event(struct chan *ch, struct frame *f)
{
	const msgpack_object_str *id = &f->field[1].via.str;
	struct run *r = &ch->run;
	uint8_t h[SEEN_IDLEN];
	const char *body;
	char err[512];
	size_t len;
	int64_t t, sk = 0;
	int known = 0, timed;

	if (!r->hello || r->done || ch->waiting) {
		chan_fail(ch, "protocol error from the %s: EVENT out of order",
			  ch->name);
		return;
	}
	t = note_time(r, f->field[0].via.str.ptr, f->field[0].via.str.size,
		      &timed);
	body = frame_bin(f, 2, &len);
	r->events++;
	if (id->size > 0) {
		md5_raw(id->ptr, id->size, h);
		sk = seen_sort_key(id->ptr, id->size, t, timed);
		if (!r->reparse && (known = seen_known(ch->seen, h, sk, err,
						       sizeof(err))) == -1)
			fatalx("%s", err);
	}
	if (known) {
		r->duplicates++;
		log_debug("event %.*s was delivered before: dropped",
			  (int)id->size, id->ptr);
		return;
	}
	if (len > WAZUH_EVENT_MAX - strlen(WAZUH_HEADER)) {
		dead_letter(ch, f, body, len, id->size > 0 ? h : NULL, sk, t);
		return;
	}
	if (frame_pack(&fwd.q, FRAME_FWD, next_seq + 1, body, len) == -1)
		fatalx("cannot queue an event for the forwarder");
	next_seq++;
	ch->last_seq = next_seq;
	seen_sent(ch->seen, next_seq, id->size > 0 ? h : NULL, sk, t);
}

static void
done(struct chan *ch, struct frame *f)
{
	struct run *r = &ch->run;

	if (!r->hello || r->done || ch->waiting) {
		chan_fail(ch, "protocol error from the %s: DONE out of order",
			  ch->name);
		return;
	}
	if (frame_int(f, 1) != r->events) {
		chan_fail(ch, "the %s counted %lld events, %lld arrived",
			  ch->name, (long long)frame_int(f, 1),
			  (long long)r->events);
		return;
	}
	r->done = 1;
	r->ok = frame_bool(f, 0);
}

/*
 * Handle up to max frames the channel's fetcher sent, while the forwarder
 * has room, the fetcher reads its replies (CHAN_QUEUE_MAX) and its window
 * is neither waiting to be finished nor waiting for its checkpoint row.
 * Returns 1 when it may have more.
 */
static int
chan_frames(struct chan *ch, int max)
{
	const char *errstr = NULL;
	struct frame f;
	int rc;

	while (!ch->ended && !ch->broken && !ch->run.done && !ch->waiting &&
	       peer_pending(&fwd) < FWD_QUEUE_MAX &&
	       peer_pending(&ch->p) < CHAN_QUEUE_MAX) {
		if (max-- == 0)
			return 1;
		if ((rc = frame_next(&ch->p.fr, &f, &errstr)) == 0)
			return 0;
		if (rc == -1) {
			chan_fail(ch, "protocol error from the %s: %s",
				  ch->name, errstr);
			return 0;
		}
		switch (f.type) {
		case FRAME_HELLO:
			hello(ch, &f);
			break;
		case FRAME_EVENT:
			event(ch, &f);
			break;
		case FRAME_BLOBQ:
			blob_query(ch, &f);
			break;
		case FRAME_BLOB:
			blob_done(ch, &f);
			break;
		case FRAME_PRUNE:
			prune(ch, &f);
			break;
		case FRAME_DONE:
			done(ch, &f);
			break;
		default:
			chan_fail(ch,
				  "protocol error from the %s: unexpected %s",
				  ch->name, frame_type_name(f.type));
		}
		frame_free(&f);
	}
	return 0;
}

/* The fetchers' frames, TURN_FRAMES of each in turn, starting with a
 * different channel each time, while the forwarder has room. */
static void
fetcher_frames(void)
{
	int i, more;

	do {
		more = 0;
		for (i = 0; i < nchans; i++)
			more |= chan_frames(&chans[(turn + i) % nchans],
					    TURN_FRAMES);
	} while (more && peer_pending(&fwd) < FWD_QUEUE_MAX);
	turn = (turn + 1) % nchans;
}

static void
forwarder_frames(void)
{
	const char *errstr = NULL;
	char err[512];
	struct frame f;
	int rc, i;
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
		/* Every channel's events up to seq. */
		for (i = 0; i < nchans; i++)
			if (chans[i].seen != NULL && chans[i].seen->n > 0 &&
			    seen_acked(chans[i].seen, seq, err, sizeof(err)) ==
				-1)
				fatalx("%s", err);
		frame_free(&f);
	}
}

/* No window will reach back past max - overlap: forget older ids. */
static void
prune_seen(struct chan *ch, int64_t max)
{
	char err[512];

	if (seen_prune(ch->seen, max - ch->run.overlap * DATE_TICKS_PER_SEC,
		       err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/*
 * The window is complete and delivered: widen the checkpoint to the oldest
 * and newest event times, as Wazuh's update_row_object() does.
 */
static void
commit_checkpoint(struct chan *ch)
{
	struct run *r = &ch->run;
	struct ckpt c = r->ck;
	char err[512];
	int64_t omin, omax;

	if (date_parse(c.min, &omin) == -1 || date_parse(c.max, &omax) == -1)
		fatalx("invalid checkpoint in memory");
	if (!r->have_time) {
		log_info("No event moved the checkpoint of %s %s", r->table,
			 r->key);
		prune_seen(ch, omax);
		return;
	}
	if (r->tmin < omin)
		strlcpy(c.min, r->smin, sizeof(c.min));
	if (r->tmax > omax)
		strlcpy(c.max, r->smax, sizeof(c.max));
	prune_seen(ch, r->tmax > omax ? r->tmax : omax);
	if (strcmp(c.min, r->ck.min) == 0 && strcmp(c.max, r->ck.max) == 0)
		return;
	log_debug("Attempting to update a %s row object. MD5: \"%s\", "
		  "min_date: \"%s\", max_date: \"%s\"",
		  r->table, r->key, c.min, c.max);
	if (db_put(&db, r->table, r->key, r->query, &c, 0, err, sizeof(err)) ==
	    -1)
		fatalx("%s", err);
}

/* What was delivered of each blob, and the blobs no longer listed. */
static void
commit_blobs(struct run *r)
{
	char err[512], **keep;
	struct blobrec *b;
	size_t i, n = 0;

	for (i = 0; i < r->nblobs; i++) {
		b = &r->blobs[i];
		if (b->bytes >= 0 &&
		    db_blob_put(&db, r->fallback, b->container, b->blob,
				b->ctime, b->bytes, err, sizeof(err)) == -1)
			fatalx("%s", err);
	}
	if (r->prune_container == NULL)
		return;
	keep = xcalloc(r->nblobs, sizeof(*keep));
	for (i = 0; i < r->nblobs; i++)
		if (strcmp(r->blobs[i].container, r->prune_container) == 0)
			keep[n++] = r->blobs[i].blob;
	if (db_blob_prune(&db, r->fallback, r->prune_container, r->prune_prefix,
			  keep, n, err, sizeof(err)) == -1)
		fatalx("%s", err);
	free(keep);
}

/*
 * The window ended (DONE) and every event of it was acknowledged: move its
 * checkpoint and blob offsets in one transaction, if the fetcher completed
 * it. Returns 0, or -1 when the window was not complete.
 */
static int
finish_window(struct chan *ch)
{
	struct run *r = &ch->run;
	char err[512];
	int rc = 0;

	log_info("%s %s: %lld events fetched, %lld delivered, %lld "
		 "duplicates dropped, %lld dead-lettered",
		 r->table, r->key, (long long)r->events,
		 (long long)(r->events - r->duplicates - r->dead),
		 (long long)r->duplicates, (long long)r->dead);
	if (!r->ok) {
		log_warnx("the %s did not complete its window; the "
			  "checkpoint of %s %s stays where it was",
			  ch->name, r->table, r->key);
		rc = -1;
	} else {
		/* The ids first, then the checkpoint and the offsets in a
		 * transaction of their own: all of it, or none of it. */
		if (db_commit(&db, err, sizeof(err)) == -1 ||
		    db_begin(&db, err, sizeof(err)) == -1)
			fatalx("%s", err);
		window_tx = 1;
		commit_checkpoint(ch);
		commit_blobs(r);
	}
	if (db_commit(&db, err, sizeof(err)) == -1)
		fatalx("%s", err);
	window_tx = 0;
	return rc;
}

static void
reset_window(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nblobs; i++) {
		free(r->blobs[i].container);
		free(r->blobs[i].blob);
		free(r->blobs[i].ctime);
	}
	free(r->blobs);
	free(r->table);
	free(r->key);
	free(r->query);
	free(r->fallback);
	free(r->prune_container);
	free(r->prune_prefix);
	memset(r, 0, sizeof(*r));
}

/*
 * The channel's window is over (finished, or its fetcher gone and its
 * events acknowledged): the key lock passes to the first channel waiting
 * for that checkpoint row, which gets its CHECKPOINT now.
 */
static void
close_window(struct chan *ch)
{
	struct run *r = &ch->run;
	char *table = r->table, *key = r->key;
	int held = ch->holds, i;

	r->table = r->key = NULL;
	reset_window(r);
	ch->waiting = ch->holds = 0;
	for (i = 0; held && i < nchans; i++) {
		struct chan *c = &chans[i];

		if (c->waiting && !c->ended &&
		    strcmp(c->run.table, table) == 0 &&
		    strcmp(c->run.key, key) == 0) {
			log_debug("the %s may start its window of %s %s",
				  c->name, table, key);
			open_window(c);
			break;
		}
	}
	free(table);
	free(key);
}

/* DONE, and every event of the window acknowledged: finish it, tell the
 * fetcher (RESULT), and let the next window come. */
static void
end_window(struct chan *ch)
{
	struct run *r = &ch->run;
	int ok = finish_window(ch) == 0;

	if (!ok)
		ch->failed = 1;
	ch->windows++;
	if (ch->p.out != -1 &&
	    frame_pack(&ch->p.q, FRAME_RESULT, ok,
		       (int64_t)(r->events - r->duplicates - r->dead),
		       r->duplicates, r->dead) == -1)
		chan_fail(ch,
			  "cannot queue RESULT for the %s: it does not "
			  "read its replies",
			  ch->name);
	close_window(ch);
}

static void
read_peer(struct peer *p)
{
	if (frame_reader_fill(&p->fr, p->in) == -1 && errno != EAGAIN)
		fatal("read from the %s", p->name);
	if (p->fr.eof && frame_pending(&p->fr))
		fatalx("the forwarder sent a truncated frame");
}

static void
read_chan(struct chan *ch)
{
	if (frame_reader_fill(&ch->p.fr, ch->p.in) == -1 && errno != EAGAIN &&
	    errno != EINTR)
		chan_fail(ch, "cannot read from the %s: %s", ch->name,
			  strerror(errno));
}

/* Is what the reader holds (at end of file) an incomplete frame? */
static int
frame_cut(const struct frame_reader *fr)
{
	const uint8_t *p = (const uint8_t *)fr->b.data + fr->pos;
	size_t avail = fr->b.len - fr->pos;

	return avail < 4 ||
	       avail - 4 < ((size_t)p[0] << 24 | (size_t)p[1] << 16 |
			    (size_t)p[2] << 8 | p[3]);
}

/*
 * Is the channel over? Its fetcher closed its pipe (or broke the
 * protocol), no window of it waits to be finished, and every event it
 * sent was acknowledged. A frame cut by a kill is dropped first: what
 * came before is still delivered and remembered; the window stays open.
 */
static int
chan_over(struct chan *ch)
{
	if (ch->ended)
		return 0;
	if (!ch->broken) {
		if (!ch->p.fr.eof || ch->run.done)
			return 0;
		if (!ch->waiting && frame_pending(&ch->p.fr)) {
			if (!frame_cut(&ch->p.fr))
				return 0; /* whole frames, still to handle */
			log_errorx("the %s's last frame was cut short: "
				   "dropped",
				   ch->name);
			buf_reset(&ch->p.fr.b);
			ch->p.fr.pos = 0;
		}
	}
	return ch->last_seq <= acked;
}

static void free_chan(struct chan *);

/* The channel is over: say how, let its checkpoint row go, free it. */
static void
end_chan(struct chan *ch)
{
	struct run *r = &ch->run;

	if (ch->waiting) {
		log_errorx("the %s ended while its window of %s %s waited for "
			   "another; the checkpoint stays where it was",
			   ch->name, r->table, r->key);
		ch->failed = 1;
	} else if (r->hello) {
		log_errorx("the %s ended before finishing its window; %lld "
			   "events were delivered, the checkpoint stays where "
			   "it was",
			   ch->name,
			   (long long)(r->events - r->duplicates - r->dead));
		ch->failed = 1;
	} else if (ch->windows == 0 && !ch->broken) /* its own status says
						      why (or: nothing to
						      read) */
		log_debug("the %s ended without asking for a checkpoint",
			  ch->name);
	close_window(ch);
	free_chan(ch);
}

/* Close the channel's descriptors and free its memory. */
static void
free_chan(struct chan *ch)
{
	reset_window(&ch->run);
	if (ch->p.out != -1 && peer_pending(&ch->p) > 0)
		(void)peer_write(&ch->p); /* a last RESULT, if it fits */
	/* Fds 0 and 1 stay open (unread): SQLite must not get them for a
	 * file. The fetcher sees our end when we exit. */
	if (ch->p.in > 2)
		close(ch->p.in);
	if (ch->p.out > 2)
		close(ch->p.out);
	ch->p.in = ch->p.out = -1;
	frame_reader_free(&ch->p.fr);
	buf_free(&ch->p.q);
	if (ch->seen != NULL) {
		seen_free(ch->seen);
		free(ch->seen);
		ch->seen = NULL;
	}
	ch->ended = 1;
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
 * A fetcher reads its replies in order: while CHAN_QUEUE_MAX bytes of them
 * wait, its frames are not read (its pipe fills, it waits), so that its
 * queue never overflows. Only a fetcher that does not read them gets
 * there; its end (a hangup) still ends the channel.
 */
static void
throttle(struct chan *ch)
{
	size_t n = peer_pending(&ch->p);

	ch->throttled = n >= CHAN_QUEUE_MAX;
	if (ch->throttled && !ch->slow) /* once: it may go on slowly */
		log_warnx("the %s does not read its replies (%zu bytes "
			  "wait): it is read no further until it does",
			  ch->name, n);
	ch->slow |= ch->throttled;
}

/*
 * The loop. Returns the exit status: 0 when every window the fetchers
 * opened (perhaps none: an account without containers) was complete and
 * delivered, its checkpoint committed; 1 otherwise.
 */
static int
loop(const sigset_t *wait_mask)
{
	struct pollfd *pfd = xcalloc(2 + 2 * (size_t)nchans, sizeof(*pfd));
	struct timespec ts;
	char err[512];
	int failed = 0, over, moved, i, ms;
	struct chan *ch;

	for (;;) {
		fetcher_frames();
		forwarder_frames();
		if (seen_commit_due(&store, date_now(), acked == next_seq) &&
		    db_commit(&db, err, sizeof(err)) == -1)
			fatalx("%s", err);
		if (terminated) {
			free(pfd);
			return stop_forwarder();
		}
		if (fwd.fr.eof) { /* it ends only after we close its pipe */
			free(pfd);
			return forwarder_gone();
		}
		for (i = 0, over = 1, moved = 0; i < nchans; i++) {
			ch = &chans[i];
			if (!ch->ended && ch->run.done && !ch->broken &&
			    ch->last_seq <= acked) {
				end_window(ch);
				moved = 1;
			}
			if (chan_over(ch)) {
				end_chan(ch);
				moved = 1;
			}
			over &= ch->ended;
		}
		if (over && acked == next_seq)
			break;
		if (moved)
			continue; /* the next window may be buffered already */
		pfd[0] = (struct pollfd){.fd = fwd.in, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = -1};
		if (peer_pending(&fwd))
			pfd[1] =
			    (struct pollfd){.fd = fwd.out, .events = POLLOUT};
		for (i = 0; i < nchans; i++) {
			ch = &chans[i];
			pfd[2 + 2 * i] = (struct pollfd){.fd = -1};
			pfd[3 + 2 * i] = (struct pollfd){.fd = -1};
			if (ch->ended)
				continue;
			throttle(ch);
			/* A window waiting for its checkpoint row is read
			 * on: its fetcher's end is seen at once. */
			if (!ch->broken && !ch->p.fr.eof && !ch->run.done &&
			    peer_pending(&fwd) < FWD_QUEUE_MAX)
				pfd[2 + 2 * i] = (struct pollfd){
				    .fd = ch->p.in,
				    .events = ch->throttled ? 0 : POLLIN};
			if (peer_pending(&ch->p))
				pfd[3 + 2 * i] = (struct pollfd){
				    .fd = ch->p.out, .events = POLLOUT};
		}
		/* The signals are blocked but in ppoll(): one that came
		 * after the check of terminated above ends it at once. */
		ms = seen_commit_wait(&store, date_now(), acked == next_seq);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		if (ppoll(pfd, 2 + 2 * (nfds_t)nchans, ms < 0 ? NULL : &ts,
			  wait_mask) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < nchans; i++) {
			ch = &chans[i];
			if (ch->throttled &&
			    pfd[2 + 2 * i].revents & (POLLHUP | POLLERR))
				chan_fail(ch,
					  "the %s stopped with %zu bytes of "
					  "replies unread",
					  ch->name, peer_pending(&ch->p));
			else if (pfd[2 + 2 * i].revents &
				 (POLLIN | POLLHUP | POLLERR))
				read_chan(ch);
			if (pfd[3 + 2 * i].revents &
				(POLLOUT | POLLERR | POLLHUP) &&
			    peer_write(&ch->p) == -1) {
				/* It is gone: its end of the pipe tells the
				 * rest. */
				buf_reset(&ch->p.q);
				ch->p.qoff = 0;
			}
		}
		if (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP) &&
		    peer_write(&fwd) == -1) {
			free(pfd);
			return forwarder_gone();
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_peer(&fwd);
	}
	free(pfd);
	for (i = 0; i < nchans; i++)
		failed |= chans[i].failed;
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

/*
 * The channels: fds 0/1 (fifos NULL), or channel i of 1..n on the FIFOs
 * DIR/f2s.i (frames from its fetcher; opened O_NONBLOCK, so that the open
 * does not wait for a writer and a FIFO that never had one reports
 * nothing) and DIR/s2f.i (replies; O_RDWR, so that the open does not wait
 * for a reader either).
 */
static void
open_chans(const char *fifos, int n)
{
	char path[PATH_MAX];
	struct rlimit rl;
	struct stat st;
	struct chan *ch;
	rlim_t want;
	int i;

	nchans = fifos == NULL ? 1 : n;
	chans = xcalloc((size_t)nchans, sizeof(*chans));
	want = 2 * (rlim_t)n + 64; /* and a few of our own */
	if (fifos != NULL && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < nchans; i++) {
		ch = &chans[i];
		ch->no = i + 1;
		if (nchans > 1)
			snprintf(ch->name, sizeof(ch->name), "fetcher %d",
				 ch->no);
		else
			strlcpy(ch->name, "fetcher", sizeof(ch->name));
		ch->p.name = ch->name;
		frame_reader_init(&ch->p.fr);
		buf_init(&ch->p.q, 1u << 20);
		if (fifos == NULL) {
			ch->p.in = 0;
			ch->p.out = 1;
			pipe_grow(0);
			continue;
		}
		if (snprintf(path, sizeof(path), "%s/f2s.%d", fifos, ch->no) >=
		    (int)sizeof(path))
			usage_error("--fifos %s: path too long", fifos);
		ch->p.in =
		    open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
		if (ch->p.in == -1)
			fatal("cannot open the FIFO %s", path);
		if (fstat(ch->p.in, &st) == -1 || !S_ISFIFO(st.st_mode))
			fatalx("%s is not a FIFO", path);
		snprintf(path, sizeof(path), "%s/s2f.%d", fifos, ch->no);
		ch->p.out =
		    open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
		if (ch->p.out == -1)
			fatal("cannot open the FIFO %s", path);
		if (fstat(ch->p.out, &st) == -1 || !S_ISFIFO(st.st_mode))
			fatalx("%s is not a FIFO", path);
		/* 1 MiB each counts against the user's pipe pages (64 MiB
		 * soft): a few channels only. */
		if (nchans <= 16)
			pipe_grow(ch->p.in);
	}
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t term, wait_mask;
	static const struct option lopts[] = {
	    {"db", required_argument, NULL, 'b'},
	    {"last-dates", required_argument, NULL, 'l'},
	    {"dead-letter", required_argument, NULL, 'D'},
	    {"debug", required_argument, NULL, 'd'},
	    {"check", no_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"no-sandbox", no_argument, NULL, 'S'},
	    {"fifos", required_argument, NULL, 'F'},
	    {"requests", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *dbpath = NULL, *last_dates = NULL, *dead_dir = NULL;
	const char *user = NULL, *shown, *fifos = NULL;
	int check = 0, no_sandbox = 0, requests = 0;
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
		case 'F':
			fifos = optarg;
			break;
		case 'M':
			requests =
			    (int)strtonum(optarg, 1, REQUESTS_MAX, &errstr);
			if (errstr)
				usage_error("--requests %s: must be 1 to %d",
					    optarg, REQUESTS_MAX);
			break;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind != argc || dbpath == NULL)
		usage(EXIT_USAGE);
	if ((fifos == NULL) != (requests == 0))
		usage_error("--fifos and --requests go together");
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
	sa.sa_handler = on_term; /* no SA_RESTART: ppoll() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Delivered only in the loop's ppoll(), which they interrupt. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &term, &wait_mask) == -1)
		fatal("sigprocmask");
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGHUP);
	/* Larger pipes: fewer reads and writes per event, and a fetcher
	 * (storage: the next blobs) goes on while we work through a burst. */
	pipe_grow(fwd.out);
	pipe_grow(fwd.in);
	open_chans(fifos, requests); /* before the paths change */
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
	if (seen_store_open(&store, &db, err, sizeof(err)) == -1)
		fatalx("%s", err);
	atexit(commit_at_exit);

	frame_reader_init(&fwd.fr);
	/* Room for a full queue, a largest frame and the written bytes
	 * peer_write() keeps until they pass 1 MiB. */
	buf_init(&fwd.q, FWD_QUEUE_MAX + FRAME_MAX + (1u << 20) + 64);
	if ((fifos == NULL &&
	     (set_nonblock(0) == -1 || set_nonblock(1) == -1)) ||
	    set_nonblock(fwd.in) == -1 || set_nonblock(fwd.out) == -1)
		fatal(fifos == NULL ? "the statekeeper's descriptors 0, 1, 3 "
				      "and 4 must be open"
				    : "the statekeeper's descriptors 3 and 4 "
				      "must be open");
	status = loop(&wait_mask);
	close(fwd.out); /* the forwarder sees the end and exits */
	commit_at_exit();
	for (c = 0; c < nchans; c++)
		if (!chans[c].ended)
			free_chan(&chans[c]);
	free(chans);
	seen_store_close(&store);
	db_close(&db);
	frame_reader_free(&fwd.fr);
	buf_free(&fwd.q);
	return status;
}

/*
 * Events already delivered, so that overlapping windows send nothing
 * twice. An event is known by the md5 of its id (Graph: its "id"; Log
 * Analytics: a hash of the row; storage: blob, offset and content), in
 * azure_logs_seen beside Wazuh's tables, per checkpoint row.
 *
 * An id is written there only once the forwarder acknowledged its event
 * (or it went to the dead-letter file): until then it waits in a ring,
 * indexed by a small open-addressing table so that a repeat inside one
 * run is recognised too. Rows are written in an open transaction that the
 * statekeeper commits every SEEN_COMMIT_ROWS rows or SEEN_COMMIT_TICKS, at
 * the end of every window and when it exits: a kill -9 re-sends at most
 * what was acknowledged since the last commit, and never loses anything.
 * (In WAL mode with synchronous=NORMAL a commit is a write, not a sync:
 * cheap enough to be frequent.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "sk.h"

#define SEEN_COMMIT_ROWS  2048
#define SEEN_COMMIT_TICKS (20 * (DATE_TICKS_PER_SEC / 1000)) /* 20 ms */
#define SEEN_IDLE_TICKS	  (2 * (DATE_TICKS_PER_SEC / 1000))  /* 2 ms */

static int
seen_err(struct seen *s, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s azure_logs_seen: %s", s->db->path, what,
		 sqlite3_errmsg(s->db->h));
	return -1;
}

int
seen_open(struct seen *s, struct db *db, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->db = db;
	if (sqlite3_prepare_v3(db->h,
			       "SELECT 1 FROM azure_logs_seen WHERE kid = ?1 "
			       "AND id = ?2",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->look,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db->h,
			       "INSERT OR IGNORE INTO azure_logs_seen (kid, "
			       "id, event_time) VALUES (?1, ?2, ?3)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->ins,
			       NULL) != SQLITE_OK)
		return seen_err(s, "preparing", err, errlen);
	return 0;
}

void
seen_close(struct seen *s)
{
	sqlite3_finalize(s->look);
	sqlite3_finalize(s->ins);
	free(s->ring);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/* The number of the checkpoint row (service, md5), made on first use. */
int
seen_key(struct seen *s, const char *service, const char *md5, char *err,
	 size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db->h,
			       "INSERT INTO azure_logs_key (service, md5) "
			       "VALUES (?1, ?2) ON CONFLICT DO UPDATE SET md5 "
			       "= excluded.md5 RETURNING kid",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, md5, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->kid = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	}
out:
	if (rc == -1)
		seen_err(s, "numbering a checkpoint for", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

static size_t
hash(const uint8_t h[SEEN_IDLEN])
{
	size_t v;

	memcpy(&v, h, sizeof(v)); /* an md5: already well spread */
	return v;
}

static struct seen_ev *
ring_at(struct seen *s, int64_t seq)
{
	return &s->ring[(s->head + (size_t)(seq - s->first)) % s->cap];
}

static void
index_add(struct seen *s, int64_t seq)
{
	size_t mask = s->nslot - 1, i = hash(ring_at(s, seq)->h) & mask;

	while (s->slot[i] != 0)
		i = (i + 1) & mask;
	s->slot[i] = seq;
}

/* Remove seq, shifting back the entries of its probe run. */
static void
index_del(struct seen *s, int64_t seq)
{
	size_t mask = s->nslot - 1, i = hash(ring_at(s, seq)->h) & mask, j, k;

	while (s->slot[i] != seq)
		i = (i + 1) & mask;
	for (j = i;;) {
		j = (j + 1) & mask;
		if (s->slot[j] == 0)
			break;
		k = hash(ring_at(s, s->slot[j])->h) & mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->slot[i] = s->slot[j];
		i = j;
	}
	s->slot[i] = 0;
}

static void
grow(struct seen *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024, i;
	struct seen_ev *ring = calloc(ncap, sizeof(*ring));

	if (ring == NULL)
		fatal("calloc");
	for (i = 0; i < s->n; i++)
		ring[i] = s->ring[(s->head + i) % s->cap];
	free(s->ring);
	s->ring = ring;
	s->cap = ncap;
	s->head = 0;
	free(s->slot);
	s->nslot = ncap * 2;
	if ((s->slot = calloc(s->nslot, sizeof(*s->slot))) == NULL)
		fatal("calloc");
	for (i = 0; i < s->n; i++)
		if (s->ring[i].has_id)
			index_add(s, s->first + (int64_t)i);
}

/* Was this id delivered before, or is it on its way? 1, 0 or -1. */
int
seen_known(struct seen *s, const uint8_t h[SEEN_IDLEN], char *err,
	   size_t errlen)
{
	size_t mask, i;
	int rc;

	if (s->n > 0) {
		mask = s->nslot - 1;
		for (i = hash(h) & mask; s->slot[i] != 0; i = (i + 1) & mask)
			if (memcmp(ring_at(s, s->slot[i])->h, h, SEEN_IDLEN) ==
			    0)
				return 1;
	}
	sqlite3_bind_int64(s->look, 1, s->kid);
	sqlite3_bind_blob(s->look, 2, h, SEEN_IDLEN, SQLITE_STATIC);
	rc = sqlite3_step(s->look);
	sqlite3_reset(s->look);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return seen_err(s, "reading", err, errlen);
}

/* Event seq (the next one) went to the forwarder; h is NULL without id. */
void
seen_sent(struct seen *s, int64_t seq, const uint8_t *h, int64_t t)
{
	struct seen_ev *e;

	if (s->n == 0)
		s->first = seq;
	if (seq != s->first + (int64_t)s->n)
		fatalx("internal error: event %lld sent out of order",
		       (long long)seq);
	if (s->n == s->cap)
		grow(s);
	s->n++;
	e = ring_at(s, seq);
	e->has_id = h != NULL;
	e->t = t;
	if (h != NULL) {
		memcpy(e->h, h, SEEN_IDLEN);
		index_add(s, seq);
	}
}

static int
insert(struct seen *s, const uint8_t h[SEEN_IDLEN], int64_t t, char *err,
       size_t errlen)
{
	int rc;

	if (db_begin(s->db, err, errlen) == -1)
		return -1;
	sqlite3_bind_int64(s->ins, 1, s->kid);
	sqlite3_bind_blob(s->ins, 2, h, SEEN_IDLEN, SQLITE_STATIC);
	sqlite3_bind_int64(s->ins, 3, t);
	rc = sqlite3_step(s->ins);
	sqlite3_reset(s->ins);
	if (rc != SQLITE_DONE)
		return seen_err(s, "writing", err, errlen);
	s->db->tx_rows++;
	return 0;
}

/* The forwarder acknowledged every event up to seq: remember their ids. */
int
seen_acked(struct seen *s, int64_t seq, char *err, size_t errlen)
{
	struct seen_ev *e;

	while (s->n > 0 && s->first <= seq) {
		e = ring_at(s, s->first);
		if (e->has_id) {
			if (insert(s, e->h, e->t, err, errlen) == -1)
				return -1;
			index_del(s, s->first);
		}
		s->head = (s->head + 1) % s->cap;
		s->first++;
		s->n--;
	}
	return 0;
}

/* An id handled without the forwarder (dead-lettered). */
int
seen_record(struct seen *s, const uint8_t h[SEEN_IDLEN], int64_t t, char *err,
	    size_t errlen)
{
	return insert(s, h, t, err, errlen);
}

/* Forget the ids of events older than before: no window reaches them. */
int
seen_prune(struct seen *s, int64_t before, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db->h,
			       "DELETE FROM azure_logs_seen WHERE kid = ?1 AND "
			       "event_time < ?2",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, s->kid);
		sqlite3_bind_int64(st, 2, before);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
	}
	if (rc == -1)
		seen_err(s, "pruning", err, errlen);
	else if (sqlite3_changes(s->db->h) > 0)
		log_debug("forgot %d delivered ids older than the overlap",
			  sqlite3_changes(s->db->h));
	sqlite3_finalize(st);
	return rc;
}

/*
 * Is it time to make the remembered ids durable? Every SEEN_COMMIT_ROWS
 * rows or SEEN_COMMIT_TICKS, and as soon as SEEN_IDLE_TICKS passed when
 * nothing is in flight (idle: the forwarder acknowledged everything).
 */
int
seen_commit_due(const struct seen *s, int64_t now, int idle)
{
	return s->db->tx &&
	       (s->db->tx_rows >= SEEN_COMMIT_ROWS ||
		now - s->db->tx_since >= SEEN_COMMIT_TICKS ||
		(idle && now - s->db->tx_since >= SEEN_IDLE_TICKS));
}

/* Milliseconds poll() may sleep before a commit is due (-1: none). */
int
seen_commit_wait(const struct seen *s, int64_t now, int idle)
{
	int64_t left;

	if (!s->db->tx)
		return -1;
	left = s->db->tx_since + (idle ? SEEN_IDLE_TICKS : SEEN_COMMIT_TICKS) -
	       now;
	return left <= 0 ? 0 : (int)(left / (DATE_TICKS_PER_SEC / 1000)) + 1;
}

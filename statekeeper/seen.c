/*
 * Events already delivered, so that overlapping windows send nothing
 * twice. An event is known by the md5 of its id (Graph: its "id"; Log
 * Analytics: a hash of the row; storage: blob, offset and content), in
 * azure_logs_seen beside Wazuh's tables, per checkpoint row.
 *
 * The rows are ordered by a sort key before the md5 (schema 3: PRIMARY KEY
 * (kid, sort_key, id)), so that the events of a window, which come in time
 * order, are written next to each other: a commit writes a few B-tree
 * pages to the WAL, not one per event as with random md5 keys (schema 2).
 * The sort key must be the same each time the same id comes back; it is
 * (seen_sort_key()) the event's time for Graph and Log Analytics (a Graph
 * item's time never changes; a Log Analytics id hashes the row, time
 * included), 0 for an event without a valid time, and for a storage id
 * ("blob#ctime#from#rank#md5", whose time, the blob's Last-Modified, moves
 * as the blob grows) a negative number made of the id itself: a hash of
 * "blob#ctime#from" and the rank.
 *
 * Rows are first appended to azure_logs_seen_recent (a rowid table: a
 * commit writes its last page) and kept in memory in a hash set of (kid,
 * md5); every SEEN_MERGE rows, before pruning and at start they are moved
 * into azure_logs_seen in one statement, those of every kid: the pages of
 * the window's range are written once per merge, whatever the order the
 * events came in. A lookup checks the ids in flight, the recent set, a
 * Bloom filter of the checkpoint row's ids, and only then SQLite. The
 * filter holds at most SEEN_BLOOM_IDS ids (512 KiB): when full it is
 * emptied and the ids it held, of sort key up to its floor, are looked up
 * in SQLite; as events come mostly in time order, the new ones are above
 * the floor, and memory stays flat however many ids a row has.
 *
 * An id is written there only once the forwarder acknowledged its event
 * (or it went to the dead-letter file): until then it waits in a ring,
 * indexed by a small open-addressing table so that a repeat inside one
 * run is recognised too. Rows are written in an open transaction that the
 * statekeeper commits every SEEN_COMMIT_ROWS rows or SEEN_COMMIT_TICKS, at
 * the end of every window and when it exits: a kill -9 re-sends at most
 * what was acknowledged since the last commit, and never loses anything.
 * (In WAL mode with synchronous=NORMAL a commit is a write, not a sync.)
 *
 * Several channels (fetchers) may run windows at once, each with its own
 * struct seen (its kid, Bloom filter and ring); they share a struct
 * seen_store (the statements, the recent set) and the sequence numbers:
 * a channel's events in flight have rising but not contiguous numbers,
 * and an ACK of S acknowledges, in every ring, the events up to S. Two
 * channels never hold the same kid at once (the statekeeper's key lock),
 * so the ids in flight of a kid are all in one ring.
 *
 * A database of schema 2 keeps its rows in azure_logs_seen_v2
 * (migrate_schema()): they are looked up there too, pruned the same way,
 * and the table is dropped once empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "buf.h"
#include "sk.h"

#define SEEN_COMMIT_ROWS  2048
#define SEEN_COMMIT_TICKS (20 * (DATE_TICKS_PER_SEC / 1000)) /* 20 ms */
#define SEEN_IDLE_TICKS	  (2 * (DATE_TICKS_PER_SEC / 1000))  /* 2 ms */

static int
seen_err(const struct db *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s azure_logs_seen: %s", db->path, what,
		 sqlite3_errmsg(db->h));
	return -1;
}

/* Does sql give a row? 1, 0, or -1 with why (what: "reading"). */
static int
any_row(struct db *db, const char *sql, const char *what, char *err,
	size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return seen_err(db, what, err, errlen);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return seen_err(db, what, err, errlen);
	return rc == SQLITE_ROW;
}

/* Does the table of schema 2 exist (and has rows)? 1, 0 or -1. */
static int
legacy_rows(struct db *db, char *err, size_t errlen)
{
	int rc;

	if ((rc = any_row(db,
			  "SELECT 1 FROM sqlite_master WHERE type = 'table' "
			  "AND name = 'azure_logs_seen_v2'",
			  "looking for", err, errlen)) != 1)
		return rc;
	if ((rc = any_row(db, "SELECT 1 FROM azure_logs_seen_v2 LIMIT 1",
			  "reading", err, errlen)) != 0)
		return rc;
	/* Every id of schema 2 was pruned: the table goes. */
	if (db_exec(db, "DROP TABLE azure_logs_seen_v2", err, errlen) == -1)
		return -1;
	log_debug("the delivered ids of schema 2 are all forgotten: "
		  "azure_logs_seen_v2 dropped");
	return 0;
}

/* The recent ids: a set of (kid, md5) over SEEN_RECENT_SLOTS (an md5:
 * spread). */
static size_t
recent_slot(const struct seen_store *st, int64_t kid,
	    const uint8_t h[SEEN_IDLEN])
{
	size_t i;

	memcpy(&i, h, sizeof(i));
	for (i &= SEEN_RECENT_SLOTS - 1; st->used[i];
	     i = (i + 1) & (SEEN_RECENT_SLOTS - 1))
		if (st->rkid[i] == kid &&
		    memcmp(st->recent[i], h, SEEN_IDLEN) == 0)
			break;
	return i;
}

static void
recent_add(struct seen_store *st, int64_t kid, const uint8_t h[SEEN_IDLEN])
{
	size_t i = recent_slot(st, kid, h);

	if (!st->used[i]) {
		st->used[i] = 1;
		st->rkid[i] = kid;
		memcpy(st->recent[i], h, SEEN_IDLEN);
	}
	st->nrecent++; /* rows, counted as written */
}

/*
 * Move the rows of azure_logs_seen_recent, of every kid, into
 * azure_logs_seen, in key order (each B-tree page is written once per
 * merge, not once per commit), in the open transaction. The recent set is
 * emptied with them: every id it held is in azure_logs_seen now (and in
 * the Bloom filter of its row, or below its floor). Returns 0 or -1.
 */
int
seen_merge(struct seen_store *st, char *err, size_t errlen)
{
	int rc;

	if (db_begin(st->db, err, errlen) == -1)
		return -1;
	rc = sqlite3_step(st->merge);
	sqlite3_reset(st->merge);
	if (rc != SQLITE_DONE)
		return seen_err(st->db, "merging", err, errlen);
	if (db_exec(st->db, "DELETE FROM azure_logs_seen_recent", err,
		    errlen) == -1)
		return -1;
	memset(st->used, 0, SEEN_RECENT_SLOTS);
	st->nrecent = 0;
	return 0;
}

/* The statements, the recent set, and the rows a killed run left. */
int
seen_store_open(struct seen_store *st, struct db *db, char *err, size_t errlen)
{
	char sql[80 + SEEN_BATCH * 16];
	size_t i, len;
	int legacy;

	memset(st, 0, sizeof(*st));
	st->db = db;
	if ((legacy = legacy_rows(db, err, errlen)) == -1)
		return -1;
	len = (size_t)snprintf(sql, sizeof(sql),
			       "INSERT INTO azure_logs_seen_recent (kid, "
			       "sort_key, id, event_time) VALUES ");
	for (i = 0; i < SEEN_BATCH; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					"%s(?,?,?,?)", i ? "," : "");
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &st->ins_many, NULL) != SQLITE_OK)
		return seen_err(db, "preparing", err, errlen);
	if (sqlite3_prepare_v3(db->h,
			       "SELECT 1 FROM azure_logs_seen WHERE kid = ?1 "
			       "AND sort_key = ?2 AND id = ?3",
			       -1, SQLITE_PREPARE_PERSISTENT, &st->look,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db->h,
			       "INSERT INTO azure_logs_seen_recent (kid, "
			       "sort_key, id, event_time) VALUES (?1, ?2, ?3, "
			       "?4)",
			       -1, SQLITE_PREPARE_PERSISTENT, &st->ins,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db->h,
			       "INSERT OR IGNORE INTO azure_logs_seen (kid, "
			       "sort_key, id, event_time) SELECT kid, "
			       "sort_key, id, event_time FROM "
			       "azure_logs_seen_recent",
			       -1, SQLITE_PREPARE_PERSISTENT, &st->merge,
			       NULL) != SQLITE_OK ||
	    (legacy && sqlite3_prepare_v3(db->h,
					  "SELECT 1 FROM azure_logs_seen_v2 "
					  "WHERE kid = ?1 AND id = ?2",
					  -1, SQLITE_PREPARE_PERSISTENT,
					  &st->look_v2, NULL) != SQLITE_OK))
		return seen_err(db, "preparing", err, errlen);
	st->recent = xcalloc(SEEN_RECENT_SLOTS, sizeof(*st->recent));
	st->rkid = xcalloc(SEEN_RECENT_SLOTS, sizeof(*st->rkid));
	st->used = xcalloc(SEEN_RECENT_SLOTS, 1);
	/* Rows a previous run wrote and did not merge (it was killed). */
	if (seen_merge(st, err, errlen) == -1 ||
	    db_commit(st->db, err, errlen) == -1)
		return -1;
	return 0;
}

void
seen_store_close(struct seen_store *st)
{
	sqlite3_finalize(st->look);
	sqlite3_finalize(st->ins);
	sqlite3_finalize(st->look_v2);
	sqlite3_finalize(st->ins_many);
	sqlite3_finalize(st->merge);
	free(st->recent);
	free(st->rkid);
	free(st->used);
	memset(st, 0, sizeof(*st));
}

/* A channel's state, empty until seen_key() (its memory comes then). */
void
seen_init(struct seen *s, struct seen_store *st)
{
	memset(s, 0, sizeof(*s));
	s->st = st;
	s->db = st->db;
	s->first = 1; /* entry numbers start at 1: 0 is an empty slot */
}

void
seen_free(struct seen *s)
{
	free(s->bloom);
	free(s->ring);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/* The Bloom filter: 4 bits of nbits, from the md5 (already well spread). */
static void
bloom_bits(const struct seen *s, const uint8_t h[SEEN_IDLEN], size_t bit[4])
{
	uint64_t a, b;
	size_t i;

	memcpy(&a, h, sizeof(a));
	memcpy(&b, h + 8, sizeof(b));
	b |= 1; /* odd: the 4 bits differ */
	for (i = 0; i < 4; i++)
		bit[i] = (size_t)(a + i * b) & (s->nbits - 1);
}

static void
bloom_add(struct seen *s, const uint8_t h[SEEN_IDLEN], int64_t sk)
{
	size_t bit[4], i;

	bloom_bits(s, h, bit);
	for (i = 0; i < 4; i++)
		s->bloom[bit[i] / 64] |= (uint64_t)1 << (bit[i] % 64);
	s->nin++;
	if (sk > s->sk_max)
		s->sk_max = sk;
}

/*
 * The filter is full and as big as it may be: empty it, and let the ids
 * it held (of sort key at most sk_max) be looked up in SQLite. Ids come
 * mostly in time order (Graph, Log Analytics): the next ones are above.
 */
static void
bloom_reset(struct seen *s)
{
	memset(s->bloom, 0, s->nbits / 8);
	s->nin = 0;
	if (s->sk_max > s->floor)
		s->floor = s->sk_max;
	s->sk_max = INT64_MIN;
}

static int
bloom_has(const struct seen *s, const uint8_t h[SEEN_IDLEN])
{
	size_t bit[4], i;

	bloom_bits(s, h, bit);
	for (i = 0; i < 4; i++)
		if (!(s->bloom[bit[i] / 64] & ((uint64_t)1 << (bit[i] % 64))))
			return 0;
	return 1;
}

/* Add the ids of kid that sql (?1: kid) reads, with their sort keys.
 * Returns 0 or -1. */
static int
bloom_load(struct seen *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const void *id;
	int rc;

	if (sqlite3_prepare_v2(s->db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return seen_err(s->db, "reading", err, errlen);
	sqlite3_bind_int64(st, 1, s->kid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((id = sqlite3_column_blob(st, 0)) != NULL &&
		    sqlite3_column_bytes(st, 0) == SEEN_IDLEN)
			bloom_add(s, id, sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : seen_err(s->db, "reading", err, errlen);
}

/*
 * (Re)build the Bloom filter for at least want ids of kid: 16 bits each,
 * 4 bits per id (about 0.2 % of the absent ids then need a lookup), at
 * most SEEN_BLOOM_IDS: beyond, it is emptied (bloom_reset()). The ids of
 * schema 2 have no sort key: they count as the highest.
 */
static int
bloom_build(struct seen *s, size_t want, char *err, size_t errlen)
{
	s->cap_in = want < 32768 ? 32768 : want;
	if (s->cap_in > SEEN_BLOOM_IDS)
		s->cap_in = SEEN_BLOOM_IDS;
	for (s->nbits = 64; s->nbits < s->cap_in * 16; s->nbits *= 2)
		;
	free(s->bloom);
	if ((s->bloom = calloc(s->nbits / 64, sizeof(*s->bloom))) == NULL)
		fatal("calloc");
	s->nin = 0;
	s->floor = s->sk_max = INT64_MIN;
	if (bloom_load(
		s, "SELECT id, sort_key FROM azure_logs_seen WHERE kid = ?1",
		err, errlen) == -1 ||
	    bloom_load(s,
		       "SELECT id, sort_key FROM azure_logs_seen_recent WHERE "
		       "kid = ?1",
		       err, errlen) == -1 ||
	    (s->legacy && bloom_load(s,
				     "SELECT id, 9223372036854775807 FROM "
				     "azure_logs_seen_v2 WHERE kid = ?1",
				     err, errlen) == -1))
		return -1;
	if (s->nin > s->cap_in && s->cap_in < SEEN_BLOOM_IDS)
		return bloom_build(s, s->nin * 2, err, errlen);
	if (s->nin > s->cap_in)
		bloom_reset(s);
	return 0;
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
		seen_err(s->db, "numbering a checkpoint for", err, errlen);
	sqlite3_finalize(st);
	s->legacy = 0;
	if (rc == 0 && s->st->look_v2 != NULL) {
		/* Has this row ids of schema 2 still? */
		st = NULL;
		if (sqlite3_prepare_v2(s->db->h,
				       "SELECT 1 FROM azure_logs_seen_v2 WHERE "
				       "kid = ?1 LIMIT 1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, s->kid);
			rc = sqlite3_step(st);
			s->legacy = rc == SQLITE_ROW;
			rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
		}
		if (st == NULL || rc == -1)
			rc = seen_err(s->db, "reading", err, errlen);
		sqlite3_finalize(st);
	}
	if (rc == 0)
		rc = bloom_build(s, 0, err, errlen);
	return rc;
}

/* FNV-1a, 32 bits. */
static uint32_t
fnv32(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0) {
		h ^= (uint8_t)*p++;
		h *= 16777619u;
	}
	return h;
}

/*
 * The sort key of an event (see above): for an id of the storage form
 * "...#RANK#<32 hex digits>", -1 - (fnv32(what is before "#RANK") << 31 |
 * RANK); else the event time t when timed, or 0. A function of the id
 * alone, or of the id and its time.
 */
int64_t
seen_sort_key(const char *id, size_t len, int64_t t, int timed)
{
	uint64_t rank = 0;
	size_t i, k;

	/* id[len - 33] is the '#' before the md5, id[k .. len - 34] the
	 * rank's digits, id[k - 1] the '#' before them. */
	if (len <= 34 || id[len - 33] != '#')
		return timed ? t : 0;
	for (i = len - 32; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return timed ? t : 0;
	for (k = len - 33; k > 0 && id[k - 1] >= '0' && id[k - 1] <= '9'; k--)
		;
	if (k == 0 || id[k - 1] != '#' || k == len - 33 || len - 33 - k > 18)
		return timed ? t : 0;
	for (i = k; i < len - 33; i++)
		rank = rank * 10 + (uint64_t)(id[i] - '0');
	return -1 - (int64_t)((uint64_t)fnv32(id, k - 1) << 31 |
			      (rank & 0x7fffffff));
}

static size_t
hash(const uint8_t h[SEEN_IDLEN])
{
	size_t v;

	memcpy(&v, h, sizeof(v)); /* an md5: already well spread */
	return v;
}

/* Entry e of the ring (first <= e < first + n). */
static struct seen_ev *
ring_at(struct seen *s, int64_t e)
{
	return &s->ring[(s->head + (size_t)(e - s->first)) % s->cap];
}

static void
index_add(struct seen *s, int64_t e)
{
	size_t mask = s->nslot - 1, i = hash(ring_at(s, e)->h) & mask;

	while (s->slot[i] != 0)
		i = (i + 1) & mask;
	s->slot[i] = e;
}

/* Remove entry e, shifting back the entries of its probe run. */
static void
index_del(struct seen *s, int64_t e)
{
	size_t mask = s->nslot - 1, i = hash(ring_at(s, e)->h) & mask, j, k;

	while (s->slot[i] != e)
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
seen_known(struct seen *s, const uint8_t h[SEEN_IDLEN], int64_t sk, char *err,
	   size_t errlen)
{
	struct seen_store *st = s->st;
	size_t mask, i;
	int rc;

	if (s->n > 0) {
		mask = s->nslot - 1;
		for (i = hash(h) & mask; s->slot[i] != 0; i = (i + 1) & mask)
			if (memcmp(ring_at(s, s->slot[i])->h, h, SEEN_IDLEN) ==
			    0)
				return 1;
	}
	if (st->used[recent_slot(st, s->kid, h)])
		return 1;
	if (s->bloom != NULL && sk > s->floor && !bloom_has(s, h))
		return 0; /* in neither table */
	sqlite3_bind_int64(st->look, 1, s->kid);
	sqlite3_bind_int64(st->look, 2, sk);
	sqlite3_bind_blob(st->look, 3, h, SEEN_IDLEN, SQLITE_STATIC);
	rc = sqlite3_step(st->look);
	sqlite3_reset(st->look);
	if (rc == SQLITE_DONE && s->legacy) {
		sqlite3_bind_int64(st->look_v2, 1, s->kid);
		sqlite3_bind_blob(st->look_v2, 2, h, SEEN_IDLEN, SQLITE_STATIC);
		rc = sqlite3_step(st->look_v2);
		sqlite3_reset(st->look_v2);
	}
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return seen_err(s->db, "reading", err, errlen);
}

/*
 * Event seq went to the forwarder; h is NULL without id. Its number is
 * above those of the events in flight (other channels may have numbered
 * the ones between).
 */
void
seen_sent(struct seen *s, int64_t seq, const uint8_t *h, int64_t sk, int64_t t)
{
	struct seen_ev *e;
	int64_t last = s->first + (int64_t)s->n;

	if (s->n > 0 && seq <= ring_at(s, last - 1)->seq)
		fatalx("internal error: event %lld sent out of order",
		       (long long)seq);
	if (s->n == s->cap)
		grow(s);
	s->n++;
	e = ring_at(s, last);
	e->has_id = h != NULL;
	e->sk = sk;
	e->t = t;
	e->seq = seq;
	if (h != NULL) {
		memcpy(e->h, h, SEEN_IDLEN);
		index_add(s, last);
	}
}

/* The ids went in: into the Bloom filter too. */
static int
inserted(struct seen *s, struct seen_ev *const *ev, size_t n, char *err,
	 size_t errlen)
{
	size_t i;

	s->db->tx_rows += (int64_t)n;
	for (i = 0; i < n; i++) {
		bloom_add(s, ev[i]->h, ev[i]->sk);
		recent_add(s->st, s->kid, ev[i]->h);
	}
	if (s->st->nrecent >= SEEN_MERGE &&
	    seen_merge(s->st, err, errlen) == -1)
		return -1;
	if (s->nin > s->cap_in && s->cap_in < SEEN_BLOOM_IDS)
		return bloom_build(s, s->nin * 2, err, errlen);
	if (s->nin > s->cap_in)
		bloom_reset(s);
	return 0;
}

/* Write n ids: SEEN_BATCH in one statement, or one by one. */
static int
insert(struct seen *s, struct seen_ev *const *ev, size_t n, char *err,
       size_t errlen)
{
	sqlite3_stmt *st = n == SEEN_BATCH ? s->st->ins_many : s->st->ins;
	size_t i, j;
	int rc, p;

	if (n == 0)
		return 0;
	if (db_begin(s->db, err, errlen) == -1)
		return -1;
	for (i = 0; i < n; i += j) {
		for (j = 0, p = 1; j < (st == s->st->ins ? 1 : n);
		     j++, p += 4) {
			sqlite3_bind_int64(st, p, s->kid);
			sqlite3_bind_int64(st, p + 1, ev[i + j]->sk);
			sqlite3_bind_blob(st, p + 2, ev[i + j]->h, SEEN_IDLEN,
					  SQLITE_STATIC);
			sqlite3_bind_int64(st, p + 3, ev[i + j]->t);
		}
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return seen_err(s->db, "writing", err, errlen);
	}
	return inserted(s, ev, n, err, errlen);
}

/* The forwarder acknowledged every event up to seq (of every channel):
 * remember the ids of ours. */
int
seen_acked(struct seen *s, int64_t seq, char *err, size_t errlen)
{
	struct seen_ev *batch[SEEN_BATCH];
	size_t n = 0;

	/* The entries stay in the ring until seen_sent() reuses them. */
	while (s->n > 0 && ring_at(s, s->first)->seq <= seq) {
		if (ring_at(s, s->first)->has_id) {
			batch[n++] = ring_at(s, s->first);
			index_del(s, s->first);
		}
		s->head = (s->head + 1) % s->cap;
		s->first++;
		s->n--;
		if (n == SEEN_BATCH) {
			if (insert(s, batch, n, err, errlen) == -1)
				return -1;
			n = 0;
		}
	}
	return insert(s, batch, n, err, errlen);
}

/* An id handled without the forwarder (dead-lettered). */
int
seen_record(struct seen *s, const uint8_t h[SEEN_IDLEN], int64_t sk, int64_t t,
	    char *err, size_t errlen)
{
	struct seen_ev e = {.sk = sk, .t = t, .has_id = 1}, *ev = &e;

	memcpy(e.h, h, SEEN_IDLEN);
	return insert(s, &ev, 1, err, errlen);
}

/*
 * DELETE sql with kid ?1 and before ?2; the number of rows deleted, or -1.
 */
static int
prune_sql(struct seen *s, const char *sql, int64_t before, char *err,
	  size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db->h, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, s->kid);
		sqlite3_bind_int64(st, 2, before);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = sqlite3_changes(s->db->h);
	}
	if (rc == -1)
		seen_err(s->db, "pruning", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Forget the ids of events older than before: no window reaches them.
 * A sort key is never above its event time (the time itself, 0 when the
 * event has none and event_time is when it came, or negative for storage):
 * sort_key < before bounds the range to read.
 */
int
seen_prune(struct seen *s, int64_t before, char *err, size_t errlen)
{
	int n, old = 0;

	if (s->st->nrecent > 0 && seen_merge(s->st, err, errlen) == -1)
		return -1;
	n = prune_sql(s,
		      "DELETE FROM azure_logs_seen WHERE kid = ?1 AND sort_key "
		      "< ?2 AND event_time < ?2",
		      before, err, errlen);
	if (n >= 0 && s->legacy)
		old = prune_sql(s,
				"DELETE FROM azure_logs_seen_v2 WHERE kid = ?1 "
				"AND event_time < ?2",
				before, err, errlen);
	if (n == -1 || old == -1)
		return -1;
	if (n + old > 0)
		log_debug("forgot %d delivered ids older than the overlap",
			  n + old);
	return 0;
}

/*
 * Is it time to make the remembered ids durable? Every SEEN_COMMIT_ROWS
 * rows or SEEN_COMMIT_TICKS, and as soon as SEEN_IDLE_TICKS passed when
 * nothing is in flight (idle: the forwarder acknowledged everything).
 */
int
seen_commit_due(const struct seen_store *s, int64_t now, int idle)
{
	return s->db->tx &&
	       (s->db->tx_rows >= SEEN_COMMIT_ROWS ||
		now - s->db->tx_since >= SEEN_COMMIT_TICKS ||
		(idle && now - s->db->tx_since >= SEEN_IDLE_TICKS));
}

/* Milliseconds poll() may sleep before a commit is due (-1: none). */
int
seen_commit_wait(const struct seen_store *s, int64_t now, int idle)
{
	int64_t left;

	if (!s->db->tx)
		return -1;
	left = s->db->tx_since + (idle ? SEEN_IDLE_TICKS : SEEN_COMMIT_TICKS) -
	       now;
	return left <= 0 ? 0 : (int)(left / (DATE_TICKS_PER_SEC / 1000)) + 1;
}

/*
 * The statekeeper's memory of delivered events (statekeeper/seen.c): ids
 * in flight are recognised before the forwarder acknowledges them, are
 * written to azure_logs_seen only once it did, survive a reopen only once
 * committed, and are pruned by event time. The in-flight index is checked
 * with colliding ids, where deleting from the middle of a probe run must
 * keep the others findable. Two channels' states share the sequence
 * numbers and the recent ids, and keep their checkpoint rows apart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sk.h"

struct fixture {
	char dir[64], path[128];
	struct db db;
	struct seen_store st;
	struct seen s, t; /* two channels; t only where a test keys it */
};

static void
open_all(struct fixture *x)
{
	char err[512];

	assert_int_equal(db_open(&x->db, x->path, err, sizeof(err)), 0);
	assert_int_equal(seen_store_open(&x->st, &x->db, err, sizeof(err)), 0);
	seen_init(&x->s, &x->st);
	seen_init(&x->t, &x->st);
	assert_int_equal(seen_key(&x->s, "graph",
				  "2012f3812bfc764b6a927f00ddcd7c16", err,
				  sizeof(err)),
			 0);
}

static void
close_all(struct fixture *x)
{
	seen_free(&x->s);
	seen_free(&x->t);
	seen_store_close(&x->st);
	db_close(&x->db);
}

static int
setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	strcpy(x->dir, "/tmp/test-seen.XXXXXX");
	if (mkdtemp(x->dir) == NULL)
		return -1;
	snprintf(x->path, sizeof(x->path), "%s/azure.db", x->dir);
	open_all(x);
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *x = *state;
	char p[160];

	close_all(x);
	snprintf(p, sizeof(p), "rm -rf '%s'", x->dir);
	if (system(p) != 0)
		return -1;
	free(x);
	return 0;
}

/* An id whose hash bucket is chosen (the first 8 bytes) and whose rest
 * makes it distinct. */
static void
mkid(uint8_t h[SEEN_IDLEN], uint64_t bucket, uint64_t n)
{
	memcpy(h, &bucket, 8);
	memcpy(h + 8, &n, 8);
}

/* The sort key of these ids: 0 (the ids carry their time elsewhere). */
static int
known(struct fixture *x, const uint8_t h[SEEN_IDLEN])
{
	char err[512];
	int rc = seen_known(&x->s, h, 0, err, sizeof(err));

	assert_int_not_equal(rc, -1);
	return rc;
}

static void
test_in_flight_then_acknowledged(void **state)
{
	struct fixture *x = *state;
	uint8_t a[SEEN_IDLEN], b[SEEN_IDLEN], c[SEEN_IDLEN];
	char err[512];

	mkid(a, 1, 1);
	mkid(b, 2, 2);
	mkid(c, 3, 3);
	assert_false(known(x, a));
	seen_sent(&x->s, 1, a, 0, 100);
	seen_sent(&x->s, 2, NULL, 0, 100); /* an event without id */
	seen_sent(&x->s, 3, b, 0, 200);
	assert_true(known(x, a)); /* in flight: a repeat is dropped */
	assert_true(known(x, b));
	assert_false(known(x, c));
	assert_int_equal(seen_acked(&x->s, 2, err, sizeof(err)), 0);
	assert_true(known(x, a)); /* now from the table */
	assert_true(known(x, b)); /* still in flight */
	assert_int_equal(seen_acked(&x->s, 3, err, sizeof(err)), 0);
	assert_int_equal(x->s.n, 0);
	/* Committed, they outlive the process. */
	assert_int_equal(db_commit(&x->db, err, sizeof(err)), 0);
	close_all(x);
	open_all(x);
	assert_true(known(x, a));
	assert_true(known(x, b));
	assert_false(known(x, c));
}

static void
test_uncommitted_ids_are_not_kept(void **state)
{
	struct fixture *x = *state;
	uint8_t a[SEEN_IDLEN];
	char err[512];

	mkid(a, 7, 7);
	seen_sent(&x->s, 1, a, 0, 100);
	assert_int_equal(seen_acked(&x->s, 1, err, sizeof(err)), 0);
	assert_true(x->db.tx);
	/* A crash before the commit: the id is forgotten, so the event is
	 * sent again rather than lost. */
	assert_int_equal(db_exec(&x->db, "ROLLBACK", err, sizeof(err)), 0);
	x->db.tx = 0;
	close_all(x);
	open_all(x);
	assert_false(known(x, a));
}

static void
test_other_checkpoint_rows_are_apart(void **state)
{
	struct fixture *x = *state;
	uint8_t a[SEEN_IDLEN];
	char err[512];

	mkid(a, 9, 9);
	assert_int_equal(seen_record(&x->s, a, 0, 100, err, sizeof(err)), 0);
	assert_true(known(x, a));
	assert_int_equal(seen_key(&x->s, "log_analytics",
				  "2012f3812bfc764b6a927f00ddcd7c16", err,
				  sizeof(err)),
			 0);
	assert_false(known(x, a));
}

static void
test_prune_by_event_time(void **state)
{
	struct fixture *x = *state;
	uint8_t h[SEEN_IDLEN];
	char err[512];
	int64_t i;

	for (i = 0; i < 10; i++) {
		mkid(h, (uint64_t)i, (uint64_t)i);
		assert_int_equal(
		    seen_record(&x->s, h, 0, i * 1000, err, sizeof(err)), 0);
	}
	assert_int_equal(seen_prune(&x->s, 5000, err, sizeof(err)), 0);
	for (i = 0; i < 10; i++) {
		mkid(h, (uint64_t)i, (uint64_t)i);
		assert_int_equal(known(x, h), i >= 5);
	}
}

/*
 * Thousands of ids in flight, most in a few buckets, acknowledged in steps
 * while more are sent (the ring wraps and grows): after every step each
 * id in flight or acknowledged is known and no other is.
 */
static void
test_colliding_ids_in_flight(void **state)
{
	struct fixture *x = *state;
	uint8_t h[SEEN_IDLEN];
	char err[512];
	int64_t seq, acked = 0, sent = 0, i;

	for (seq = 1; seq <= 6000; seq++) {
		mkid(h, (uint64_t)(seq % 5 == 0 ? seq : seq % 3),
		     (uint64_t)seq);
		seen_sent(&x->s, seq, seq % 11 == 0 ? NULL : h, 0, seq);
		sent = seq;
		if (seq % 700 == 0) {
			acked += 500;
			assert_int_equal(
			    seen_acked(&x->s, acked, err, sizeof(err)), 0);
			for (i = 1; i <= sent + 3; i++) {
				mkid(h, (uint64_t)(i % 5 == 0 ? i : i % 3),
				     (uint64_t)i);
				assert_int_equal(known(x, h),
						 i <= sent && i % 11 != 0);
			}
		}
	}
	assert_int_equal(seen_acked(&x->s, sent, err, sizeof(err)), 0);
	assert_int_equal(x->s.n, 0);
	for (i = 0; i < (int64_t)x->s.nslot; i++)
		assert_int_equal(x->s.slot[i], 0);
}

/* Once merged, rows of sort keys 0 and of events' times are apart. */
static void
test_sort_key_is_part_of_the_key(void **state)
{
	struct fixture *x = *state;
	uint8_t a[SEEN_IDLEN];
	char err[512];

	mkid(a, 4, 4);
	assert_int_equal(seen_record(&x->s, a, 1234, 1234, err, sizeof(err)),
			 0);
	/* Recent ids are known by their md5 alone. */
	assert_int_equal(seen_known(&x->s, a, 0, err, sizeof(err)), 1);
	assert_int_equal(x->st.nrecent, 1);
	assert_int_equal(seen_merge(&x->st, err, sizeof(err)), 0);
	assert_int_equal(x->st.nrecent, 0);
	assert_int_equal(seen_known(&x->s, a, 1234, err, sizeof(err)), 1);
	assert_int_equal(seen_known(&x->s, a, 0, err, sizeof(err)), 0);
}

static void
test_sort_key(void **state)
{
	static const char h[] = "0123456789abcdef0123456789abcdef";
	char id[256];
	int64_t k1, k2, k3;

	(void)state;
	/* Graph, Log Analytics: the time when there is one, else 0. */
	assert_int_equal(seen_sort_key("b4f1a1e0-1c2d", 13, 777, 1), 777);
	assert_int_equal(seen_sort_key(h, 32, 777, 1), 777);
	assert_int_equal(seen_sort_key(h, 32, 777, 0), 0);
	/* Storage: from the id alone, negative, neighbours for neighbours. */
	snprintf(id, sizeof(id), "dir/b#1.json#2024#0#100#7#%s", h);
	k1 = seen_sort_key(id, strlen(id), 777, 1);
	assert_true(k1 < 0);
	assert_int_equal(seen_sort_key(id, strlen(id), 999, 0), k1);
	snprintf(id, sizeof(id), "dir/b#1.json#2024#0#100#8#%s", h);
	k2 = seen_sort_key(id, strlen(id), 777, 1);
	assert_int_equal(k2, k1 - 1);
	snprintf(id, sizeof(id), "dir/c.json##100#8#%s", h);
	k3 = seen_sort_key(id, strlen(id), 777, 1);
	assert_true(k3 < 0 && k3 != k2);
	/* Not quite the storage form: the time. */
	snprintf(id, sizeof(id), "dir/c.json##100#x8#%s", h);
	assert_int_equal(seen_sort_key(id, strlen(id), 777, 1), 777);
	snprintf(id, sizeof(id), "#8#%.31sG", h);
	assert_int_equal(seen_sort_key(id, strlen(id), 777, 1), 777);
	snprintf(id, sizeof(id), "8#%s", h);
	assert_int_equal(seen_sort_key(id, strlen(id), 777, 1), 777);
}

static int
count(struct fixture *x, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(x->db.h, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A database a newer azure-logs wrote is refused, and left as it is. */
static void
test_newer_schema_refused(void **state)
{
	struct fixture *x = *state;
	char err[512];
	sqlite3 *h;

	close_all(x);
	assert_int_equal(sqlite3_open(x->path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
				      "UPDATE azure_logs_meta SET value = '4' "
				      "WHERE name = 'schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(db_open(&x->db, x->path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has schema 4, newer than this "
				    "azure-logs knows (3)"));
	assert_int_equal(sqlite3_open(x->path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
				      "UPDATE azure_logs_meta SET value = '3' "
				      "WHERE name = 'schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	open_all(x);
}

/*
 * A database of schema 2 (PRIMARY KEY (kid, id)) is upgraded to schema 3
 * keeping its ids: they are still known (nothing is sent twice), pruned
 * by time as before, and their table goes once empty.
 */
static void
test_schema_2_upgrade(void **state)
{
	struct fixture *x = *state;
	uint8_t a[SEEN_IDLEN], b[SEEN_IDLEN], c[SEEN_IDLEN];
	char err[512], sql[512];
	sqlite3 *h;

	close_all(x);
	unlink(x->path);
	mkid(a, 11, 1);
	mkid(b, 12, 2);
	mkid(c, 13, 3);
	assert_int_equal(sqlite3_open(x->path, &h), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE azure_logs_meta (name TEXT PRIMARY KEY NOT "
		 "NULL, value TEXT NOT NULL);"
		 "INSERT INTO azure_logs_meta VALUES ('schema_version', '2');"
		 "CREATE TABLE azure_logs_key (kid INTEGER PRIMARY KEY, "
		 "service TEXT NOT NULL, md5 TEXT NOT NULL, UNIQUE (service, "
		 "md5));"
		 "INSERT INTO azure_logs_key VALUES (5, 'graph', "
		 "'2012f3812bfc764b6a927f00ddcd7c16');"
		 "CREATE TABLE azure_logs_seen (kid INTEGER NOT NULL, id BLOB "
		 "NOT NULL, event_time INTEGER NOT NULL, PRIMARY KEY (kid, "
		 "id)) WITHOUT ROWID;");
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
				      "INSERT INTO azure_logs_seen VALUES (5, "
				      "x'0b000000000000000100000000000000', "
				      "100), (5, "
				      "x'0c000000000000000200000000000000', "
				      "5000)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);

	open_all(x);
	assert_int_equal(x->s.kid, 5);
	assert_int_equal(count(x, "SELECT value FROM azure_logs_meta WHERE "
				  "name = 'schema_version'"),
			 3);
	assert_int_equal(count(x, "SELECT count(*) FROM azure_logs_seen_v2"),
			 2);
	/* Whatever the sort key, the old ids are known. */
	assert_int_equal(seen_known(&x->s, a, 100, err, sizeof(err)), 1);
	assert_int_equal(seen_known(&x->s, b, 0, err, sizeof(err)), 1);
	assert_false(known(x, c));
	assert_int_equal(seen_record(&x->s, c, 3000, 3000, err, sizeof(err)),
			 0);
	assert_int_equal(
	    count(x, "SELECT count(*) FROM azure_logs_seen_recent"), 1);
	assert_int_equal(seen_prune(&x->s, 1000, err, sizeof(err)), 0);
	assert_int_equal(count(x, "SELECT count(*) FROM azure_logs_seen"), 1);
	assert_int_equal(db_commit(&x->db, err, sizeof(err)), 0);
	close_all(x);

	open_all(x);
	assert_int_equal(seen_known(&x->s, a, 100, err, sizeof(err)), 0);
	assert_int_equal(seen_known(&x->s, b, 5000, err, sizeof(err)), 1);
	assert_int_equal(seen_known(&x->s, c, 3000, err, sizeof(err)), 1);
	assert_int_equal(seen_prune(&x->s, 10000, err, sizeof(err)), 0);
	close_all(x);

	open_all(x); /* empty: dropped */
	assert_int_equal(count(x, "SELECT count(*) FROM sqlite_master WHERE "
				  "name = 'azure_logs_seen_v2'"),
			 0);
	assert_int_equal(seen_known(&x->s, b, 5000, err, sizeof(err)), 0);
	assert_int_equal(seen_known(&x->s, c, 3000, err, sizeof(err)), 0);
	assert_int_equal(count(x, "SELECT value FROM azure_logs_meta WHERE "
				  "name = 'schema_version'"),
			 3);
}

static int
in(const int64_t *v, size_t n, int64_t k)
{
	while (n-- > 0)
		if (v[n] == k)
			return 1;
	return 0;
}

static int
known_t(struct fixture *x, const uint8_t h[SEEN_IDLEN])
{
	char err[512];
	int rc = seen_known(&x->t, h, 0, err, sizeof(err));

	assert_int_not_equal(rc, -1);
	return rc;
}

/*
 * Two channels number their events from one sequence: each ring holds
 * rising, not contiguous numbers, and an ACK of S takes, in both, the
 * events up to S and no other. Each knows its own ids only (another
 * checkpoint row), in flight, recent or merged.
 */
static void
test_interleaved_channels(void **state)
{
	struct fixture *x = *state;
	static const int64_t mine[] = {1, 3, 4, 7, 8, 12};
	static const int64_t theirs[] = {2, 5, 6, 9, 10, 11};
	uint8_t h[SEEN_IDLEN];
	char err[512];
	size_t i;

	assert_int_equal(seen_key(&x->t, "log_analytics",
				  "2012f3812bfc764b6a927f00ddcd7c16", err,
				  sizeof(err)),
			 0);
	assert_int_not_equal(x->s.kid, x->t.kid);
	for (i = 0; i < 6; i++) {
		mkid(h, 100, (uint64_t)mine[i]);
		seen_sent(&x->s, mine[i], i == 4 ? NULL : h, 0, 100);
		mkid(h, 100, (uint64_t)theirs[i]);
		seen_sent(&x->t, theirs[i], h, 0, 100);
	}
	/* The same md5 in both rows: each has its own. */
	mkid(h, 100, 1);
	assert_true(known(x, h));
	assert_false(known_t(x, h));
	mkid(h, 100, 2);
	assert_false(known(x, h));
	assert_true(known_t(x, h));

	assert_int_equal(seen_acked(&x->s, 5, err, sizeof(err)), 0);
	assert_int_equal(seen_acked(&x->t, 5, err, sizeof(err)), 0);
	assert_int_equal(x->s.n, 3);	    /* 7, 8 and 12 */
	assert_int_equal(x->t.n, 4);	    /* 6, 9, 10 and 11 */
	assert_int_equal(x->st.nrecent, 5); /* 1 3 4, 2 5 */
	assert_int_equal(count(x, "SELECT count(*) FROM azure_logs_seen_recent "
				  "WHERE kid = (SELECT kid FROM azure_logs_key "
				  "WHERE service = 'graph')"),
			 3);
	assert_int_equal(seen_acked(&x->s, 10, err, sizeof(err)), 0);
	assert_int_equal(seen_acked(&x->t, 10, err, sizeof(err)), 0);
	assert_int_equal(x->s.n, 1);
	assert_int_equal(x->t.n, 1);
	/* More of ours after theirs: still rising, still apart. */
	mkid(h, 100, 13);
	seen_sent(&x->s, 13, h, 0, 100);
	assert_int_equal(seen_acked(&x->s, 13, err, sizeof(err)), 0);
	assert_int_equal(seen_acked(&x->t, 13, err, sizeof(err)), 0);
	assert_int_equal(x->s.n + x->t.n, 0);
	/* Ours: 1 3 4 7 12 13 (8 had no id); theirs: 2 5 6 9 10 11. */
	for (i = 1; i <= 14; i++) {
		mkid(h, 100, (uint64_t)i);
		assert_int_equal(known(x, h),
				 (in(mine, 6, (int64_t)i) && i != 8) ||
				     i == 13);
		assert_int_equal(known_t(x, h), in(theirs, 6, (int64_t)i));
	}
	/* Merged (every row's), then pruned (ours only): theirs stay. */
	assert_int_equal(seen_prune(&x->s, 1000, err, sizeof(err)), 0);
	assert_int_equal(x->st.nrecent, 0);
	assert_int_equal(
	    count(x, "SELECT count(*) FROM azure_logs_seen_recent"), 0);
	for (i = 1; i <= 14; i++) {
		mkid(h, 100, (uint64_t)i);
		assert_false(known(x, h));
		assert_int_equal(known_t(x, h), in(theirs, 6, (int64_t)i));
	}
}

/* Many ids: the Bloom filter grows and never hides one. */
static void
test_many_ids(void **state)
{
	struct fixture *x = *state;
	uint8_t h[SEEN_IDLEN];
	char err[512];
	int64_t i;

	for (i = 1; i <= 100000; i++) {
		mkid(h, (uint64_t)i * 0x9e3779b97f4a7c15ull, (uint64_t)i);
		seen_sent(&x->s, i, h, i, i);
		if (i % 64 == 0 || i == 100000)
			assert_int_equal(seen_acked(&x->s, i, err, sizeof(err)),
					 0);
	}
	assert_int_equal(db_commit(&x->db, err, sizeof(err)), 0);
	assert_true(x->s.cap_in >= 100000);
	for (i = 1; i <= 100001; i++) {
		mkid(h, (uint64_t)i * 0x9e3779b97f4a7c15ull, (uint64_t)i);
		assert_int_equal(seen_known(&x->s, h, i, err, sizeof(err)),
				 i <= 100000);
	}
	close_all(x);
	open_all(x);
	for (i = 1; i <= 100001; i += 7) {
		mkid(h, (uint64_t)i * 0x9e3779b97f4a7c15ull, (uint64_t)i);
		assert_int_equal(seen_known(&x->s, h, i, err, sizeof(err)),
				 i <= 100000);
	}
}

/* Sort keys mostly rising, every third one anywhere (as storage's). */
static int64_t
mixed_sk(int64_t i)
{
	return i % 3 == 0 ? -1 - (i * 7919) % 1000003 : i;
}

/*
 * More ids than the Bloom filter holds: it stays at its size, emptied
 * each time it fills; the ids it held are looked up in SQLite, so none is
 * missed and none absent is taken as known, also after a reopen (which
 * finds too many to load).
 */
static void
test_bloom_is_bounded(void **state)
{
	struct fixture *x = *state;
	const int64_t n = SEEN_BLOOM_IDS * 5 / 2;
	uint8_t h[SEEN_IDLEN];
	char err[512];
	int64_t i;
	int pass;

	for (i = 1; i <= n; i++) {
		mkid(h, (uint64_t)i * 0x9e3779b97f4a7c15ull, (uint64_t)i);
		assert_int_equal(
		    seen_known(&x->s, h, mixed_sk(i), err, sizeof(err)), 0);
		seen_sent(&x->s, i, h, mixed_sk(i), i);
		if (i % 64 == 0 || i == n)
			assert_int_equal(seen_acked(&x->s, i, err, sizeof(err)),
					 0);
		assert_true(x->s.nbits <= (size_t)SEEN_BLOOM_IDS * 16);
	}
	assert_int_equal(db_commit(&x->db, err, sizeof(err)), 0);
	assert_true(x->s.floor > INT64_MIN);
	for (pass = 0; pass < 2; pass++) {
		for (i = 1; i <= n + 1000; i += pass ? 7 : 1) {
			mkid(h, (uint64_t)i * 0x9e3779b97f4a7c15ull,
			     (uint64_t)i);
			assert_int_equal(
			    seen_known(&x->s, h, mixed_sk(i), err, sizeof(err)),
			    i <= n);
		}
		close_all(x);
		open_all(x);
		assert_true(x->s.nbits <= (size_t)SEEN_BLOOM_IDS * 16);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_in_flight_then_acknowledged,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uncommitted_ids_are_not_kept,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_other_checkpoint_rows_are_apart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_by_event_time, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_colliding_ids_in_flight, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_sort_key_is_part_of_the_key,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interleaved_channels, setup,
					    teardown),
	    cmocka_unit_test(test_sort_key),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_schema_2_upgrade, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_many_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bloom_is_bounded, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

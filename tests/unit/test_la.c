/*
 * Log Analytics (fetch.h, la_query.c): the KQL Wazuh's
 * build_log_analytics_query() sends for each window, the bounds and
 * timespan of a request, the checkpoint key, the response scanner, the
 * PartialError check and the events of iter_log_analytics_events(). The
 * expected strings were produced by Python 3 (hashlib.md5, json.loads and
 * json.dumps with Wazuh's code) and are hard-coded here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "date.h"
#include "fetch.h"
#include "util.h"

#define NOW   "2024-05-10T12:00:00.1234567Z"
#define Q     "AzureActivity"
#define ORDER " | order by TimeGenerated asc | where "

#include "window_helpers.h"

/* A copy of n bytes in a block of exactly n bytes, so ASan sees overreads. */
static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* The query for w and the start of its window [start, now). */
static void
expect_query(const struct window *w, const char *want, const char *start)
{
	struct buf b;
	int64_t s = -1;

	buf_init(&b, 65536);
	assert_int_equal(la_build_query(Q, "TimeGenerated", w, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	assert_int_equal(la_window_start(w, &s), 0);
	assert_int_equal(s, ticks(start));
	buf_free(&b);
}

/* 1. Query building */

static void
test_query_reparse(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.000000Z", 3600, 1);

	(void)state;
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:00:00.123456Z) ",
		     "2024-05-10T11:00:00.1234567Z");
	/* reparse wins when desired is before min ... */
	w = win("2024-05-10T11:30:00.000000Z", "2024-05-10T11:45:00.000000Z",
		2 * 86400, 1);
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-08T12:00:00.123456Z) ",
		     "2024-05-08T12:00:00.1234567Z");
	/* ... and after max */
	w = win("2024-05-10T09:00:00.000000Z", "2024-05-10T09:30:00.000000Z",
		60, 1);
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:59:00.123456Z) ",
		     "2024-05-10T11:59:00.1234567Z");
}

static void
test_query_before_min(void **state)
{
	struct window w = win("2024-05-10T11:30:00.1234567Z",
			      "2024-05-10T11:45:00.5Z", 3600, 0);

	(void)state;
	/* MIN and MAX are the raw strings; D has Wazuh's 6 digits */
	expect_query(
	    &w,
	    Q ORDER "( TimeGenerated < "
		    "datetime(2024-05-10T11:30:00.1234567Z) and "
		    "TimeGenerated >= "
		    "datetime(2024-05-10T11:00:00.123456Z)) or ( "
		    "TimeGenerated >= datetime(2024-05-10T11:45:00.5000000Z)) ",
	    "2024-05-10T11:00:00.1234567Z");
	/* 7 days back, with legacy raw strings */
	w = win("2024-05-04T15:12:56.98Z", "2024-05-10 11:00:00.171231+00:00",
		7 * 86400, 0);
	expect_query(&w,
		     Q ORDER "( TimeGenerated < "
			     "datetime(2024-05-04T15:12:56.98Z) and "
			     "TimeGenerated >= "
			     "datetime(2024-05-03T12:00:00.123456Z)) or ( "
			     "TimeGenerated >= "
			     "datetime(2024-05-10T11:00:00.1712310Z)) ",
		     "2024-05-03T12:00:00.1234567Z");
}

static void
test_query_after_max(void **state)
{
	struct window w =
	    win("2024-05-10T11:00:00Z", "2024-05-10T11:30:00.000000Z", 600, 0);

	(void)state;
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:50:00.123456Z) ",
		     "2024-05-10T11:50:00.1234567Z");
	/* one tick after max is after max */
	w = win("2024-05-10T10:00:00Z", "2024-05-10T11:00:00.1234566Z", 3600,
		0);
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:00:00.123456Z) ",
		     "2024-05-10T11:00:00.1234567Z");
}

static void
test_query_inside(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.6195833Z", 3600, 0);

	(void)state;
	/* the trailing space is Wazuh's */
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:30:00.6195833Z) ",
		     "2024-05-10T11:30:00.6195833Z");
	/* the edges belong to "inside": desired == min, desired == max */
	w = win("2024-05-10T11:00:00.1234567Z", "2024-05-10T11:30:00Z", 3600,
		0);
	expect_query(&w,
		     Q ORDER
		     "TimeGenerated >= datetime(2024-05-10T11:30:00.0000000Z) ",
		     "2024-05-10T11:30:00Z");
	w = win("2024-05-10T10:00:00Z", "2024-05-10T11:00:00.1234567Z", 3600,
		0);
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:00:00.1234567Z) ",
		     "2024-05-10T11:00:00.1234567Z");
	/* min == max == desired (a row created by this offset) */
	w = win("2024-05-10T11:00:00.1234567Z", "2024-05-10T11:00:00.1234567Z",
		3600, 0);
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:00:00.1234567Z) ",
		     "2024-05-10T11:00:00.1234567Z");
}

static void
test_query_no_offset(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.6195833Z", -1, 0);

	(void)state;
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:30:00.6195833Z) ",
		     "2024-05-10T11:30:00.6195833Z");
	/* now does not matter without an offset */
	w.now = ticks("2030-01-01T00:00:00Z");
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:30:00.6195833Z) ",
		     "2024-05-10T11:30:00.6195833Z");
	/* reparse: >= max, formatted with 6 digits */
	w.reparse = 1;
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T11:30:00.619583Z) ",
		     "2024-05-10T11:30:00.6195833Z");
	/* a new row without offset: today 00:00:00 */
	w = win("2024-05-10T00:00:00.000000Z", "2024-05-10T00:00:00.000000Z",
		-1, 0);
	expect_query(&w,
		     Q ORDER "TimeGenerated >= "
			     "datetime(2024-05-10T00:00:00.0000000Z) ",
		     "2024-05-10T00:00:00Z");
}

/*
 * A checkpoint with min > max (a legacy last_dates.json pair, or an
 * edited database) and max < desired < min: Wazuh tests "desired < min"
 * before "desired > max", so it sends the two-interval form.
 */
static void
test_query_min_after_max(void **state)
{
	struct window w = win("2024-05-10T11:30:00.000000Z",
			      "2024-05-10T10:30:00.000000Z", 3600, 0);

	(void)state;
	expect_query(&w,
		     Q ORDER "( TimeGenerated < "
			     "datetime(2024-05-10T11:30:00.000000Z) and "
			     "TimeGenerated >= "
			     "datetime(2024-05-10T11:00:00.123456Z)) or ( "
			     "TimeGenerated >= "
			     "datetime(2024-05-10T10:30:00.0000000Z)) ",
		     "2024-05-10T11:00:00.1234567Z");
}

static void
test_query_verbatim(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.000000Z", -1, 0);
	const char *q = "T | where a != \"%s %d\\n\" | project '|', \xc3\xa9";
	struct buf b;

	(void)state;
	buf_init(&b, 65536);
	assert_int_equal(la_build_query(q, "TimeGenerated", &w, &b), 0);
	assert_string_equal(
	    buf_cstr(&b),
	    "T | where a != \"%s %d\\n\" | project '|', \xc3\xa9"
	    " | order by TimeGenerated asc | where "
	    "TimeGenerated >= datetime(2024-05-10T11:30:00.0000000Z) ");
	buf_free(&b);
}

static void
test_query_full_buffer(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.000000Z", 3600, 0);
	struct buf b;

	(void)state;
	buf_init(&b, 40);
	assert_int_equal(la_build_query(Q, "TimeGenerated", &w, &b), -1);
	buf_free(&b);
	w.reparse = 1;
	buf_init(&b, 70);
	assert_int_equal(la_build_query(Q, "TimeGenerated", &w, &b), -1);
	buf_free(&b);
	w = win("2024-05-10T11:30:00.000000Z", "2024-05-10T11:45:00.000000Z",
		3600, 0);
	buf_init(&b, 100);
	assert_int_equal(la_build_query(Q, "TimeGenerated", &w, &b), -1);
	buf_free(&b);
}

/* Overlap, and the checkpoint on ingestion_time(). */
static void
test_query_overlap_and_ingestion(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.6195833Z", 3600, 0);
	struct buf b;
	int64_t s = -1;

	(void)state;
	w.overlap_secs = 600;
	w.lag_secs = 60;
	buf_init(&b, 65536);
	assert_int_equal(la_build_query(Q, "ingestion_time()", &w, &b), 0);
	assert_string_equal(buf_cstr(&b),
			    Q ORDER "ingestion_time() >= "
				    "datetime(2024-05-10T11:20:00.6195833Z) ");
	assert_int_equal(la_window_start(&w, &s), 0);
	assert_int_equal(s, ticks("2024-05-10T11:20:00.6195833Z"));
	assert_int_equal(window_end(&w), ticks("2024-05-10T11:59:00.1234567Z"));
	buf_reset(&b);
	assert_int_equal(
	    la_bound_query("T ", "ingestion_time()", s, window_end(&w), &b), 0);
	assert_string_equal(
	    buf_cstr(&b),
	    "T | where ingestion_time() >= "
	    "datetime(2024-05-10T11:20:00.6195833Z) and ingestion_time() < "
	    "datetime(2024-05-10T11:59:00.1234567Z) | extend "
	    "AzureLogsIngestionTime = ingestion_time()");
	buf_free(&b);
}

static void
test_bound_query(void **state)
{
	struct window w = win("2024-05-10T11:30:00.1234567Z",
			      "2024-05-10T11:45:00.5Z", 3600, 0);
	struct buf base, b;
	int64_t start;

	(void)state;
	buf_init(&base, 65536);
	buf_init(&b, 65536);
	assert_int_equal(la_build_query(Q, "TimeGenerated", &w, &base), 0);
	assert_int_equal(la_window_start(&w, &start), 0);
	assert_int_equal(
	    la_bound_query(buf_cstr(&base), "TimeGenerated", start, w.now, &b),
	    0);
	assert_string_equal(
	    buf_cstr(&b), Q ORDER
	    "( TimeGenerated < datetime(2024-05-10T11:30:00.1234567Z) "
	    "and TimeGenerated >= datetime(2024-05-10T11:00:00.123456Z)"
	    ") or ( TimeGenerated >= datetime(2024-05-10T11:45:00.5000000Z)) "
	    "| where TimeGenerated >= "
	    "datetime(2024-05-10T11:00:00.1234567Z) and "
	    "TimeGenerated < datetime(2024-05-10T12:00:00.1234567Z)");
	/* a half of a split window: any tick, 7 digits */
	buf_reset(&b);
	assert_int_equal(la_bound_query("T ", "TimeGenerated",
					ticks("2024-05-10T11:00:00Z"),
					ticks("2024-05-10T11:00:00Z") + 1, &b),
			 0);
	assert_string_equal(
	    buf_cstr(&b),
	    "T | where TimeGenerated >= "
	    "datetime(2024-05-10T11:00:00.0000000Z) and "
	    "TimeGenerated < datetime(2024-05-10T11:00:00.0000001Z)");
	buf_free(&b);
	buf_init(&b, 32);
	assert_int_equal(la_bound_query("T ", "TimeGenerated", 0, 1, &b), -1);
	buf_free(&b);
	buf_free(&base);
}

static void
test_timespan(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 128);
	assert_int_equal(
	    la_timespan(ticks("2024-05-10T11:00:00.1234567Z"), ticks(NOW), &b),
	    0);
	assert_string_equal(buf_cstr(&b), "2024-05-10T11:00:00.1234567Z/"
					  "2024-05-10T12:00:00.1234567Z");
	buf_reset(&b);
	assert_int_equal(
	    la_timespan(0, ticks("2024-02-29T23:59:59.9999999Z"), &b), 0);
	assert_string_equal(buf_cstr(&b), "1970-01-01T00:00:00.0000000Z/"
					  "2024-02-29T23:59:59.9999999Z");
	buf_free(&b);
	buf_init(&b, 20);
	assert_int_equal(la_timespan(0, 1, &b), -1);
	buf_free(&b);
}

/* hashlib.md5(f"query={q}|workspace={w}".encode()).hexdigest() */
static void
test_key(void **state)
{
	char k[MD5_HEXLEN];

	(void)state;
	la_key("AzureActivity", "a1b2c3d4-0000-1111-2222-333344445555", k);
	assert_string_equal(k, "2f181bbb2e67152415277eed4719e0a4");
	la_key("", "", k);
	assert_string_equal(k, "91aed4d40f3fabb7a7e9477418da3a08");
	la_key("SigninLogs | where UserPrincipalName == "
	       "\"jos\xc3\xa9@contoso.com\" and AppDisplayName != "
	       "'O''Brien'\n| where ResultType !in (\"0\") | project "
	       "\xe6\x97\xa5\xe6\x9c\xac, x = \"a|b\"",
	       "ws|1", k);
	assert_string_equal(k, "892ec49bf832c184532ac3389c6180a6");
}

/* 2. Response scanning */

#define COLS                                                                   \
	"[{\"name\":\"TimeGenerated\",\"type\":\"datetime\"},"                 \
	"{\"name\":\"Computer\",\"type\":\"string\"}]"
#define ROWS                                                                   \
	"[[\"2024-05-10T11:00:00.1234567Z\",\"host1\"],"                       \
	"[\"2024-05-10T11:00:01Z\",\"host2\"]]"
#define PARTIAL                                                                \
	"{\"code\":\"PartialError\",\"message\":\"There were some errors "     \
	"when processing your query.\",\"details\":[{\"code\":"                \
	"\"EngineError\",\"message\":\"Something went wrong processing your "  \
	"query on the server.\",\"innererror\":{\"code\":\"-2133196797\","     \
	"\"message\":\"Query result set has exceeded the internal data size "  \
	"limit 64000000 (E_QUERY_RESULT_SET_TOO_LARGE; see "                   \
	"https://aka.ms/kustoquerylimits)\",\"severity\":2,"                   \
	"\"severityName\":\"Error\"}}]}"
#define PARTIAL_MSG                                                            \
	"PartialError: Query result set has exceeded the internal data size "  \
	"limit 64000000 (E_QUERY_RESULT_SET_TOO_LARGE; see "                   \
	"https://aka.ms/kustoquerylimits)"

/*
 * Scan body (n bytes) and compare the three extents with the texts wanted
 * (NULL: absent).
 */
static void
scan_n(const char *body, size_t n, const char *cols, const char *rows,
       const char *err)
{
	char *p = dupn(body, n);
	struct la_scan s;
	const char *errstr = NULL;
	int rc = la_scan_response(p, n, &s, &errstr);

	if (rc != 0)
		fail_msg("la_scan_response: %s: %s", errstr, body);
	if (cols == NULL)
		assert_int_equal(s.columns_len, 0);
	else {
		assert_true(s.columns_off + s.columns_len <= n);
		assert_int_equal(s.columns_len, strlen(cols));
		assert_memory_equal(p + s.columns_off, cols, s.columns_len);
	}
	if (rows == NULL)
		assert_int_equal(s.rows_len, 0);
	else {
		assert_true(s.rows_off + s.rows_len <= n);
		assert_int_equal(s.rows_len, strlen(rows));
		assert_memory_equal(p + s.rows_off, rows, s.rows_len);
	}
	if (err == NULL)
		assert_int_equal(s.error_len, 0);
	else {
		assert_true(s.error_off + s.error_len <= n);
		assert_int_equal(s.error_len, strlen(err));
		assert_memory_equal(p + s.error_off, err, s.error_len);
	}
	free(p);
}

static void
scan(const char *body, const char *cols, const char *rows, const char *err)
{
	scan_n(body, strlen(body), cols, rows, err);
}

static void
scan_fails_n(const char *body, size_t n)
{
	char *p = dupn(body, n);
	struct la_scan s;
	const char *errstr = NULL;

	if (la_scan_response(p, n, &s, &errstr) != -1)
		fail_msg("la_scan_response accepted: %.*s", (int)n, body);
	assert_non_null(errstr);
	free(p);
}

static void
scan_fails(const char *body)
{
	scan_fails_n(body, strlen(body));
}

/* The rows of a rows array (NULL-terminated list), then its end. */
static void
expect_rows(const char *rows, const char *const *want)
{
	size_t n = strlen(rows), pos = 0, off = 0, len = 0;
	char *p = dupn(rows, n);
	int i;

	for (i = 0; want[i] != NULL; i++) {
		assert_int_equal(la_next_row(p, n, &pos, &off, &len), 1);
		assert_true(off + len <= n);
		assert_int_equal(len, strlen(want[i]));
		assert_memory_equal(p + off, want[i], len);
	}
	assert_int_equal(la_next_row(p, n, &pos, &off, &len), 0);
	free(p);
}

/* A rows array that is malformed after the rows listed. */
static void
expect_rows_fail(const char *rows, int good)
{
	size_t n = strlen(rows), pos = 0, off, len;
	char *p = dupn(rows, n);
	int i;

	for (i = 0; i < good; i++)
		assert_int_equal(la_next_row(p, n, &pos, &off, &len), 1);
	if (la_next_row(p, n, &pos, &off, &len) != -1)
		fail_msg("la_next_row accepted row %d of: %s", good, rows);
	free(p);
}

static void
test_scan_basic(void **state)
{
	static const char *const rows[] = {
	    "[\"2024-05-10T11:00:00.1234567Z\",\"host1\"]",
	    "[\"2024-05-10T11:00:01Z\",\"host2\"]", NULL};

	(void)state;
	scan("{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":" COLS
	     ",\"rows\":" ROWS "}]}",
	     COLS, ROWS, NULL);
	expect_rows(ROWS, rows);
}

static void
test_scan_whitespace(void **state)
{
	static const char *const rows[] = {"[ \"a\" , 1 ]", "[\"b\",2]",
					   "[\r\n]", NULL};
	const char *cols = "[ { \"name\" : \"TimeGenerated\" , \"type\" : "
			   "\"datetime\" } ,\n\t{\"name\":\"n\",\"type\":"
			   "\"long\"} ]";
	const char *rws = "[ \n\t[ \"a\" , 1 ] ,\r\n [\"b\",2]\n,[\r\n] \n ]";
	char body[1024];

	(void)state;
	snprintf(body, sizeof(body),
		 " \r\n\t{ \"tables\" :\n [ \n { \"name\" : \"PrimaryResult\" "
		 ", \"columns\" :\t%s ,\r\n \"rows\"\n:\n%s\n}\t]\r\n}\r\n\t ",
		 cols, rws);
	scan(body, cols, rws, NULL);
	expect_rows(rws, rows);
	/* no whitespace at all, and a pretty-printed document */
	scan("{\"tables\":[{\"columns\":[],\"rows\":[]}]}", "[]", "[]", NULL);
	scan("{\n  \"tables\": [\n    {\n      \"name\": \"PrimaryResult\",\n"
	     "      \"columns\": [\n        {\n          \"name\": "
	     "\"TimeGenerated\",\n          \"type\": \"datetime\"\n        }\n"
	     "      ],\n      \"rows\": [\n        [\n          "
	     "\"2024-05-10T11:00:00Z\"\n        ]\n      ]\n    }\n  ]\n}\n",
	     "[\n        {\n          \"name\": \"TimeGenerated\",\n"
	     "          \"type\": \"datetime\"\n        }\n      ]",
	     "[\n        [\n          \"2024-05-10T11:00:00Z\"\n        ]\n"
	     "      ]",
	     NULL);
}

static void
test_scan_orders(void **state)
{
	(void)state;
	/* rows before columns, name last */
	scan("{\"tables\":[{\"rows\":" ROWS ",\"columns\":" COLS
	     ",\"name\":\"PrimaryResult\"}]}",
	     COLS, ROWS, NULL);
	/* error before tables */
	scan("{\"error\":" PARTIAL ",\"tables\":[{\"name\":\"PrimaryResult\","
	     "\"columns\":" COLS ",\"rows\":" ROWS "}]}",
	     COLS, ROWS, PARTIAL);
	/* extra keys everywhere, some holding "columns", "rows", "tables" and
	 * "error" members of their own, which do not count */
	scan(
	    "{\"statistics\":{\"query\":{\"executionTime\":0.12,\"columns\":"
	    "[1],\"rows\":[[2]],\"error\":{\"code\":\"x\"}}},"
	    "\"render\":{\"visualization\":\"table\",\"tables\":[{\"columns\":"
	    "[3],\"rows\":[[4]]}]},\"x\":null,\"y\":true,\"z\":-1.5e3,"
	    "\"tables\":[{\"name\":\"PrimaryResult\",\"meta\":{\"columns\":[5],"
	    "\"rows\":[[6]]},\"columns\":" COLS ",\"more\":[\"rows\","
	    "{\"rows\":[]}],\"rows\":" ROWS ",\"after\":\"]}\"}],"
	    "\"after\":[{\"tables\":[]}],\"a_key_longer_than_thirty_two_"
	    "characters_named_rows\":1}",
	    COLS, ROWS, NULL);
	/* several tables: only tables[0] counts */
	scan("{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":" COLS
	     ",\"rows\":" ROWS "},{\"name\":\"Second\",\"columns\":[{\"name\":"
	     "\"x\",\"type\":\"long\"}],\"rows\":[[1],[2]]},{\"columns\":[],"
	     "\"rows\":[]}]}",
	     COLS, ROWS, NULL);
	scan("{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":" COLS
	     ",\"rows\":[]},{\"name\":\"Second\",\"columns\":[{\"name\":"
	     "\"x\",\"type\":\"long\"}],\"rows\":[[1],[2]]}]}",
	     COLS, "[]", NULL);
	/* a member given twice: the last one, as json.loads keeps */
	scan("{\"tables\":[{\"columns\":[],\"rows\":[[1]],\"columns\":" COLS
	     ",\"rows\":" ROWS "}]}",
	     COLS, ROWS, NULL);
}

static void
test_scan_tricky_strings(void **state)
{
	static const char *const want[] = {
	    "[\"]\",\"}\",\"[\",\"{\",\"\\\"\",\"\\\\\",\"\\\\\\\"]}\"]",
	    "[\"a\\\\\",\"\\\\\\\\\",\"\\\"],[\\\"\"]",
	    "[\"\\u005d\\/\\b\\f\\n\\r\\t\",\",\",\":\",\"rows\"]", NULL};
	const char *rows =
	    "[[\"]\",\"}\",\"[\",\"{\",\"\\\"\",\"\\\\\",\"\\\\\\\"]}\"],"
	    "[\"a\\\\\",\"\\\\\\\\\",\"\\\"],[\\\"\"],"
	    "[\"\\u005d\\/\\b\\f\\n\\r\\t\",\",\",\":\",\"rows\"]]";
	const char *cols = "[{\"name\":\"a]}\\\"\",\"type\":\"string\"}]";
	char body[1024];

	(void)state;
	snprintf(body, sizeof(body),
		 "{\"tables\":[{\"name\":\"\\\"]}\",\"columns\":%s,"
		 "\"rows\":%s}],\"k\\\"ey\":\"\\\\\"}",
		 cols, rows);
	scan(body, cols, rows, NULL);
	expect_rows(rows, want);
}

static void
test_scan_nested_cells(void **state)
{
	static const char *const want[] = {
	    "[\"t\",{\"a\":[1,{\"b\":[[],{}]}],\"c\":{\"d\":\"]]\"}}]",
	    "[\"t\",[[[[[]]]]],[{}]]", "[[\"t\"],{\"rows\":[]}]", NULL};
	const char *rows =
	    "[[\"t\",{\"a\":[1,{\"b\":[[],{}]}],\"c\":{\"d\":\"]]\"}}],"
	    "[\"t\",[[[[[]]]]],[{}]],[[\"t\"],{\"rows\":[]}]]";

	(void)state;
	expect_rows(rows, want);
	scan("{\"tables\":[{\"columns\":" COLS ",\"rows\":[[\"t\",{\"a\":[1,"
	     "{\"b\":[[],{}]}],\"c\":{\"d\":\"]]\"}}],[\"t\",[[[[[]]]]],[{}]],"
	     "[[\"t\"],{\"rows\":[]}]]}]}",
	     COLS, rows, NULL);
}

static void
test_scan_zero_rows(void **state)
{
	static const char *const none[] = {NULL};

	(void)state;
	scan("{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":" COLS
	     ",\"rows\":[]}]}",
	     COLS, "[]", NULL);
	scan("{\"tables\":[{\"columns\":" COLS ",\"rows\":[ \r\n\t]}]}", COLS,
	     "[ \r\n\t]", NULL);
	expect_rows("[]", none);
	expect_rows("[ \r\n\t]", none);
}

static void
test_scan_error(void **state)
{
	struct la_scan s;
	const char *body = "{\"tables\":[{\"name\":\"PrimaryResult\","
			   "\"columns\":" COLS ",\"rows\":" ROWS "}],"
			   "\"error\":" PARTIAL "}";
	const char *errstr = NULL;
	char msg[512];

	(void)state;
	/* a 200 carrying a PartialError: the tables and the error */
	scan(body, COLS, ROWS, PARTIAL);
	assert_int_equal(la_scan_response(body, strlen(body), &s, &errstr), 0);
	assert_int_equal(
	    la_partial_error(body + s.error_off, s.error_len, msg, sizeof(msg)),
	    1);
	assert_string_equal(msg, PARTIAL_MSG);
	/* an error without tables (the body of an error status) */
	scan("{\"error\":{\"code\":\"BadArgumentError\",\"message\":\"x\"}}",
	     NULL, NULL, "{\"code\":\"BadArgumentError\",\"message\":\"x\"}");
	/* an error and tables without rows */
	scan("{\"tables\":[{\"columns\":[]}],\"error\":{}}", "[]", NULL, "{}");
}

/*
 * A 200 whose "error" is null holds no error (json.loads gives None, and
 * Wazuh ignores "error" on a 200): the rows must be taken.
 */
static void
test_scan_error_null(void **state)
{
	(void)state;
	scan("{\"tables\":[{\"columns\":" COLS ",\"rows\":" ROWS "}],"
	     "\"error\":null}",
	     COLS, ROWS, NULL);
}

static void
test_scan_trailing(void **state)
{
	static const char nul_after[] =
	    "{\"tables\":[{\"columns\":[],\"rows\":[]}]}\0";
	const char *errstr = NULL;
	struct la_scan s;
	const char *b;

	(void)state;
	scan("{\"tables\":[{\"columns\":[],\"rows\":[]}]} \r\n\t", "[]", "[]",
	     NULL);
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}]}x");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}]} {}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}]}}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}]},");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}]}]");
	scan_fails_n(nul_after, sizeof(nul_after) - 1);
	b = "{\"tables\":[{\"columns\":[],\"rows\":[]}]}\n{\"tables\":[]}";
	assert_int_equal(la_scan_response(b, strlen(b), &s, &errstr), -1);
	assert_string_equal(errstr,
			    "the response has data after its JSON document");
}

static void
test_scan_garbage(void **state)
{
	static const char *const bad[] = {
	    "",
	    " \r\n",
	    "null",
	    "true",
	    "0",
	    "\"tables\"",
	    "[]",
	    "[{\"tables\":[{\"columns\":[],\"rows\":[]}]}]",
	    "{",
	    "}",
	    "{}",
	    "{ }",
	    "not json",
	    "<html><body>502 Bad Gateway</body></html>",
	    "{\"tables\"}",
	    "{\"tables\":}",
	    "{\"tables\" [{}]}",
	    "{\"tables\"::[]}",
	    "{tables:[{\"columns\":[],\"rows\":[]}]}",
	    "{'tables':[{'columns':[],'rows':[]}]}",
	    "{,\"tables\":[{\"columns\":[],\"rows\":[]}]}",
	    "{\"a\":1 \"tables\":[{\"columns\":[],\"rows\":[]}]}",
	    "{\"tables\":[{\"columns\":[] \"rows\":[]}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":[]}]",
	    "{\"tables\":[{\"columns\":[],\"rows\":[]]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":[}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":[\"]}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":[]}],\"x\":\"\\\"}",
	    "{\"tables\":[]}",
	    "{\"tables\":null}",
	    "{\"tables\":{\"columns\":[],\"rows\":[]}}",
	    "{\"tables\":[[],{\"columns\":[],\"rows\":[]}]}",
	    "{\"tables\":[\"x\",{\"columns\":[],\"rows\":[]}]}",
	    "{\"tables\":[{}]}",
	    "{\"tables\":[{\"columns\":[]}]}",
	    "{\"tables\":[{\"rows\":[]}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":null}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":1}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":\"[]\"}]}",
	    "{\"tables\":[{\"columns\":[],\"rows\":{}}]}",
	    "{\"Tables\":[{\"columns\":[],\"rows\":[]}]}",
	    "{\"tables\":[{\"Columns\":[],\"Rows\":[]}]}",
	    "\xef\xbb\xbf{\"tables\":[{\"columns\":[],\"rows\":[]}]}",
	    "\xff\xfe{",
	    NULL};
	static const char nul3[] = "\0\0\0";
	static const char nul_start[] =
	    "{\0\"tables\":[{\"columns\":[],\"rows\":[]}]}";
	int i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		scan_fails(bad[i]);
	scan_fails_n(nul3, sizeof(nul3) - 1);
	scan_fails_n(nul_start, sizeof(nul_start) - 1);
}

/*
 * Bodies that are not JSON in a part the scanner only skips: a NUL or a
 * value without comma between elements, a closing bracket of the wrong
 * kind, a trailing comma, a bad literal. json.loads
 * (Wazuh's response.json()) rejects each of them; la_scan_response
 * promises -1 for a body that is "not JSON".
 */
static void
test_scan_invalid_json(void **state)
{
	static const char nul_in[] =
	    "{\"tables\":[{\"columns\":[],\"rows\":[]}\0]}";

	(void)state;
	scan_fails_n(nul_in, sizeof(nul_in) - 1);
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]} 1]}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}}}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}],}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}],"
		   "\"x\":[1}}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}],"
		   "\"x\":tru}");
	scan_fails("{\"tables\":[{\"columns\":[],\"rows\":[]}],"
		   "\"x\":{\"a\" 1 2}}");
}

static void
test_next_row_malformed(void **state)
{
	struct buf b;
	size_t pos = 0, off, len;

	(void)state;
	expect_rows_fail("", 0);
	expect_rows_fail("x", 0);
	expect_rows_fail("{}", 0);
	expect_rows_fail("[", 0);
	expect_rows_fail("[ ", 0);
	expect_rows_fail("[1]", 0);
	expect_rows_fail("[\"a\"]", 0);
	expect_rows_fail("[{\"a\":1}]", 0);
	expect_rows_fail("[null]", 0);
	expect_rows_fail("[,[1]]", 0);
	expect_rows_fail("[[1]", 1);
	expect_rows_fail("[[1],", 1);
	expect_rows_fail("[[1],]", 1);
	expect_rows_fail("[[1] [2]]", 1);
	expect_rows_fail("[[1],,[2]]", 1);
	expect_rows_fail("[[1],2]", 1);
	expect_rows_fail("[[1],[2]", 2);
	expect_rows_fail("[[1],[\"]\"]", 2);
	expect_rows_fail("[[1],[\"]", 1);
	expect_rows_fail("[[1],[[2]]", 2);
	expect_rows_fail("[[\"\\\"]]", 0);
	/* after the end, the end again */
	buf_init(&b, 64);
	buf_puts(&b, "[[1]]");
	assert_int_equal(la_next_row(b.data, b.len, &pos, &off, &len), 1);
	assert_int_equal(la_next_row(b.data, b.len, &pos, &off, &len), 0);
	assert_int_equal(la_next_row(b.data, b.len, &pos, &off, &len), 0);
	buf_free(&b);
}

/*
 * Every prefix of a small valid response: -1, or (once the document is
 * complete) the extents of the whole one; never a read past the end (run
 * under ASan: each prefix is in a block of its own size).
 */
static void
test_scan_truncated(void **state)
{
	static const char body[] =
	    "{\"tables\":[{\"name\":\"PrimaryResult\","
	    "\"columns\":[{\"name\":\"TimeGenerated\","
	    "\"type\":\"datetime\"},{\"name\":\"s\","
	    "\"type\":\"dynamic\"}],\"rows\":[[\"2024-05-10T11:00:00Z\","
	    "\"a]}\\\"\\\\\"],[\"2024-05-10T11:00:01Z\",[{\"x\":\"]\"},"
	    "{}]]]}],\"error\":{\"code\":\"PartialError\","
	    "\"message\":\"m\"}} \n";
	size_t len = sizeof(body) - 1, doc = len - 2, n;
	struct la_scan full, s;
	const char *errstr;
	char msg[256], *p;
	int rc;

	(void)state;
	errstr = NULL;
	assert_int_equal(la_scan_response(body, len, &full, &errstr), 0);
	assert_true(full.error_len > 0);
	for (n = 0; n < len; n++) {
		p = dupn(body, n);
		errstr = NULL;
		memset(&s, 0xa5, sizeof(s));
		rc = la_scan_response(p, n, &s, &errstr);
		if (n < doc) {
			if (rc != -1)
				fail_msg("prefix of %zu bytes accepted", n);
			assert_non_null(errstr);
		} else {
			assert_int_equal(rc, 0);
			assert_memory_equal(&s, &full, sizeof(s));
		}
		rc = la_partial_error(p, n, msg, sizeof(msg));
		assert_int_equal(rc, n < doc ? -1 : 1);
		free(p);
	}
}

/* Every prefix of a rows array: rows of the whole array, then -1. */
static void
test_next_row_truncated(void **state)
{
	static const char rows[] =
	    "[ [\"2024-05-10T11:00:00Z\",\"a]}\\\"\\\\\"] , "
	    "[\"2024-05-10T11:00:01Z\",[{\"x\":\"]\"},{}],null,-1.5e3,true],"
	    "[\"\\u00e9\"] ]";
	size_t len = sizeof(rows) - 1, n, pos, off, rlen;
	size_t offs[3], lens[3];
	int i, rc;
	char *p;

	(void)state;
	pos = 0;
	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    la_next_row(rows, len, &pos, &offs[i], &lens[i]), 1);
	}
	assert_int_equal(la_next_row(rows, len, &pos, &off, &rlen), 0);
	for (n = 0; n < len; n++) {
		p = dupn(rows, n);
		pos = 0;
		for (i = 0; (rc = la_next_row(p, n, &pos, &off, &rlen)) == 1;
		     i++) {
			assert_true(i < 3);
			assert_int_equal(off, offs[i]);
			assert_int_equal(rlen, lens[i]);
			assert_true(off + rlen <= n);
		}
		if (rc != -1)
			fail_msg("prefix of %zu bytes ends with %d", n, rc);
		free(p);
	}
}

/* 3. PartialError detection */

/* la_partial_error on a copy of s in a block of its own size. */
static int
perr(const char *s, char *msg, size_t msglen)
{
	size_t n = strlen(s);
	char *p = dupn(s, n);
	int rc = la_partial_error(p, n, msg, msglen);

	free(p);
	return rc;
}

static void
test_partial_error(void **state)
{
	static const char bad_arg[] =
	    "{\"error\":{\"code\":\"BadArgumentError\",\"message\":\"The "
	    "request had some invalid properties\",\"correlationId\":"
	    "\"0d1e6e6c-0000-0000-0000-000000000000\",\"innererror\":{"
	    "\"code\":\"SyntaxError\",\"message\":\"A recognition error "
	    "occurred.\"}}}";
	char msg[512];

	(void)state;
	/* the error object of a 200, and a whole body holding it */
	assert_int_equal(perr(PARTIAL, msg, sizeof(msg)), 1);
	assert_string_equal(msg, PARTIAL_MSG);
	memset(msg, 0, sizeof(msg));
	assert_int_equal(perr("{\"error\":" PARTIAL "}", msg, sizeof(msg)), 1);
	assert_string_equal(msg, PARTIAL_MSG);
	/* an error status: not partial */
	assert_int_equal(perr(bad_arg, msg, sizeof(msg)), 0);
	assert_string_equal(msg,
			    "BadArgumentError: A recognition error occurred.");
	/* the innermost message, through innererror and details */
	assert_int_equal(
	    perr("{\"error\":{\"code\":\"BadArgumentError\",\"message\":\"a\","
		 "\"innererror\":{\"code\":\"SyntaxError\",\"message\":\"b\","
		 "\"innererror\":{\"code\":\"SYN0002\",\"message\":\"Query "
		 "could "
		 "not be parsed at 'x' on line [1,5]\"}}}}",
		 msg, sizeof(msg)),
	    0);
	assert_string_equal(msg, "BadArgumentError: Query could not be parsed "
				 "at 'x' on line [1,5]");
	assert_int_equal(perr("{\"code\":\"PartialError\","
			      "\"message\":\"top\",\"details\":"
			      "[{\"code\":\"E\"}]}",
			      msg, sizeof(msg)),
			 1);
	assert_string_equal(msg, "PartialError: top");
	assert_int_equal(
	    perr("{\"error\":{\"code\":\"AuthenticationFailed\",\"message\":"
		 "\"Token expired\"}}",
		 msg, sizeof(msg)),
	    0);
	assert_string_equal(msg, "AuthenticationFailed: Token expired");
	assert_int_equal(perr("{\"message\":\"m\"}", msg, sizeof(msg)), 0);
	assert_string_equal(msg, "(no code): m");
	assert_int_equal(perr("{\"code\":\"PartialError\"}", msg, sizeof(msg)),
			 1);
	assert_string_equal(msg, "PartialError: (no message)");
	/* a small msg is cut, NUL-terminated */
	memset(msg, 'x', sizeof(msg));
	assert_int_equal(perr(PARTIAL, msg, 8), 1);
	assert_string_equal(msg, "Partial");
}

static void
test_partial_error_not_json(void **state)
{
	static const char *const bad[] = {"",
					  "not json",
					  "{",
					  "{\"error\":",
					  "[1]",
					  "\"PartialError\"",
					  "null",
					  "<html>504 Gateway Time-out</html>",
					  "{\"code\":\"PartialError\"} x",
					  NULL};
	char msg[64];
	int i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(perr(bad[i], msg, sizeof(msg)), -1);
}

/*
 * An error nested 64 levels deep (an untrusted body) is answered at once:
 * the innermost message is found in linear time.
 */
static void
test_partial_error_deep(void **state)
{
	enum { DEPTH = 64 };
	struct timespec ts = {0, 10 * 1000 * 1000};
	struct buf b;
	pid_t pid;
	int i, st = 0, done = 0;
	char msg[256];

	(void)state;
	buf_init(&b, 65536);
	buf_puts(&b, "{\"error\":{\"code\":\"BadArgumentError\","
		     "\"message\":\"m\"");
	for (i = 0; i < DEPTH; i++)
		buf_printf(&b,
			   ",\"innererror\":{\"code\":\"c\","
			   "\"message\":\"m%d\"",
			   i);
	for (i = 0; i < DEPTH + 2; i++)
		buf_puts(&b, "}");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		i = la_partial_error(b.data, b.len, msg, sizeof(msg));
		_exit(i == 0 && strcmp(msg, "BadArgumentError: m63") == 0 ? 0
									  : 1);
	}
	for (i = 0; i < 500 && !done; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			done = 1;
		else
			nanosleep(&ts, NULL);
	}
	buf_free(&b);
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("la_partial_error still running after 5 s on an "
			 "error nested %d levels deep",
			 DEPTH);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* 4. Rows -> events (expected: json.dumps of Wazuh's dict, by Python 3) */

/*
 * What azure-la does with a response (la.c emit_rows): scan, columns,
 * then each row through jansson and la_row_event. Compares every event
 * with want (NULL-terminated) and returns the TimeGenerated position.
 */
static int
events(const char *body, const char *tag, const char *const *want)
{
	size_t n = strlen(body), pos = 0, off, len;
	char *p = dupn(body, n);
	json_t *cols, *names = NULL;
	const char *errstr = NULL, *rows, *time;
	char err[JSON_ERROR_TEXT_LENGTH];
	json_error_t jerr;
	struct la_scan s;
	struct buf out;
	int time_col = -2, i, rc;

	if (la_scan_response(p, n, &s, &errstr) != 0)
		fail_msg("la_scan_response: %s", errstr);
	cols = json_loadb(p + s.columns_off, s.columns_len, 0, &jerr);
	if (cols == NULL)
		fail_msg("columns: %s", jerr.text);
	assert_int_equal(
	    la_columns(cols, &names, &time_col, "TimeGenerated", &errstr), 0);
	assert_int_equal(json_array_size(names), json_array_size(cols));
	buf_init(&out, EVENT_MAX);
	rows = p + s.rows_off;
	for (i = 0; (rc = la_next_row(rows, s.rows_len, &pos, &off, &len)) == 1;
	     i++) {
		assert_non_null(want[i]);
		buf_reset(&out);
		rc = la_row_event(names, rows + off, len, tag, -1, time_col,
				  &out, &time, err, sizeof(err));
		if (rc != 0)
			fail_msg("row %d: %d %s", i, rc, rc == -2 ? err : "");
		assert_string_equal(buf_cstr(&out), want[i]);
	}
	assert_int_equal(rc, 0);
	assert_null(want[i]);
	buf_free(&out);
	json_decref(names);
	json_decref(cols);
	free(p);
	return time_col;
}

/*
 * Responses as the service sends them, and the events Wazuh's Python makes
 * of them: json.loads(body), iter_log_analytics_events(), json.dumps().
 */
static const char r_types[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\","
    "\"columns\":[{\"name\":\"TimeGenerated\","
    "\"type\":\"datetime\"},{\"name\":\"Computer\","
    "\"type\":\"string\"},{\"name\":\"Count\",\"type\":\"long\"},"
    "{\"name\":\"Level\",\"type\":\"int\"},{\"name\":\"Ratio\","
    "\"type\":\"real\"},{\"name\":\"Ok\",\"type\":\"bool\"},"
    "{\"name\":\"Id\",\"type\":\"guid\"},{\"name\":\"Span\","
    "\"type\":\"timespan\"},{\"name\":\"Amount\","
    "\"type\":\"decimal\"},{\"name\":\"Props\","
    "\"type\":\"dynamic\"}],"
    "\"rows\":[[\"2024-05-10T11:59:59.1234567Z\",\"host-1\","
    "9223372036854775807,2147483647,0.1,true,"
    "\"0b8a6c47-35b2-4d3f-9d4e-1f2a3b4c5d6e\","
    "\"01:02:03.4560000\",\"12345678901234567890.1234567890\","
    "\"{\\\"a\\\":[1,2.5,null],\\\"b\\\":\\\"x\\\\\\\"y\\\"}\"],"
    "[\"2024-05-10T11:59:59Z\",null,null,null,null,null,null,"
    "null,null,null],[\"2024-05-10T11:59:59.5Z\",\"\","
    "-9223372036854775808,-2147483648,-0.0,false,"
    "\"00000000-0000-0000-0000-000000000000\",\"-1.00:00:00\","
    "\"-0.5\",\"[]\"],[\"2024-05-10T12:00:00.0000001Z\",\"h\","
    "9223372036854775806,0,1e-05,true,\"\",\"00:00:00\",\"0\","
    "\"{}\"]]}]}";

static const char r_reals[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\","
    "\"columns\":[{\"name\":\"TimeGenerated\","
    "\"type\":\"datetime\"},{\"name\":\"v\",\"type\":\"real\"}],"
    "\"rows\":[[\"2024-05-10T11:00:00.000Z\",0.1],"
    "[\"2024-05-10T11:00:01.000Z\",1e-05],"
    "[\"2024-05-10T11:00:02.000Z\",1E-5],"
    "[\"2024-05-10T11:00:03.000Z\",47.6],"
    "[\"2024-05-10T11:00:04.000Z\",1.5e+16],"
    "[\"2024-05-10T11:00:05.000Z\",1.5e16],"
    "[\"2024-05-10T11:00:06.000Z\",1.0],"
    "[\"2024-05-10T11:00:07.000Z\",100],"
    "[\"2024-05-10T11:00:08.000Z\",-0.0],"
    "[\"2024-05-10T11:00:09.000Z\",0],"
    "[\"2024-05-10T11:00:10.000Z\",-0],"
    "[\"2024-05-10T11:00:11.000Z\",1e16],"
    "[\"2024-05-10T11:00:12.000Z\",1e15],"
    "[\"2024-05-10T11:00:13.000Z\",0.0001],"
    "[\"2024-05-10T11:00:14.000Z\",0.00001],"
    "[\"2024-05-10T11:00:15.000Z\",123456789.123],"
    "[\"2024-05-10T11:00:16.000Z\",5e-324],"
    "[\"2024-05-10T11:00:17.000Z\",1.7976931348623157e308],"
    "[\"2024-05-10T11:00:18.000Z\",2.2250738585072014e-308],"
    "[\"2024-05-10T11:00:19.000Z\",0.30000000000000004],"
    "[\"2024-05-10T11:00:20.000Z\",9007199254740993],"
    "[\"2024-05-10T11:00:21.000Z\",1e22],"
    "[\"2024-05-10T11:00:22.000Z\",12345678901234567.0],"
    "[\"2024-05-10T11:00:23.000Z\",-47.6],"
    "[\"2024-05-10T11:00:24.000Z\",3.141592653589793],"
    "[\"2024-05-10T11:00:25.000Z\",2.5e-7],"
    "[\"2024-05-10T11:00:26.000Z\",1E2],"
    "[\"2024-05-10T11:00:27.000Z\",-9223372036854775807],"
    "[\"2024-05-10T11:00:28.000Z\",9223372036854775807]]}]}";

static const char r_strings[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\","
    "\"columns\":[{\"name\":\"TimeGenerated\","
    "\"type\":\"datetime\"},{\"name\":\"s\","
    "\"type\":\"string\"}],"
    "\"rows\":[[\"2024-05-10T11:00:00.000Z\",\"jos\\u00e9\"],"
    "[\"2024-05-10T11:00:01.000Z\",\"jos\303\251\"],"
    "[\"2024-05-10T11:00:02.000Z\","
    "\"\346\227\245\346\234\254\350\252\236\"],"
    "[\"2024-05-10T11:00:03.000Z\",\"\360\237\230\200\"],"
    "[\"2024-05-10T11:00:04.000Z\",\"\\ud83d\\ude00\"],"
    "[\"2024-05-10T11:00:05.000Z\",\"a\\u0000b\"],"
    "[\"2024-05-10T11:00:06.000Z\",\"\\u0001\\u001f\\u007f\"],"
    "[\"2024-05-10T11:00:07.000Z\",\"tab\\there\\nnl\\r\\b\\f\"],"
    "[\"2024-05-10T11:00:08.000Z\","
    "\"quote\\\" back\\\\ slash\\/\"],"
    "[\"2024-05-10T11:00:09.000Z\",\"]}\\\"[{,:\"],"
    "[\"2024-05-10T11:00:10.000Z\",\"\\u2028\\u2029\"],"
    "[\"2024-05-10T11:00:11.000Z\",\"\"],"
    "[\"2024-05-10T11:00:12.000Z\",\"\\u00ff\"],"
    "[\"2024-05-10T11:00:13.000Z\",\"\177\"]]}]}";

static const char r_dynamic[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"nam"
    "e\":\"TimeGenerated\",\"type\":\"datetime\"},{\"name\":\"Pro"
    "ps\",\"type\":\"dynamic\"},{\"name\":\"Na\\u00efve \\\"q\\\""
    " \\\\\",\"type\":\"string\"}],\"rows\":[[\"t1\",\"{\\\"k\\\""
    ":\\\"v\\\",\\\"n\\\":[1,{\\\"x\\\":null}],\\\"u\\\":\\\""
    "\\\\u00e9\\\"}\",\"a\"],[\"t2\",{\"b\":1,\"a\":[1.5,null,tru"
    "e,{\"c\":\"]\"}],\"b\":2},\"b\"],[\"t3\",[[],[[]],{}],\"c\"]"
    ",[\"t4\",\"[1, 2]\",\"d\"]]}]}";

static const char r_tagcol[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\","
    "\"columns\":[{\"name\":\"X\",\"type\":\"string\"},"
    "{\"name\":\"azure_tag\",\"type\":\"string\"},"
    "{\"name\":\"TimeGenerated\",\"type\":\"datetime\"},"
    "{\"name\":\"log_analytics_tag\",\"type\":\"string\"}],"
    "\"rows\":[[\"x\",\"orig\",\"2024-05-10T11:00:00Z\","
    "\"origtag\"]]}]}";

static const char r_dup[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\","
    "\"columns\":[{\"name\":\"TimeGenerated\","
    "\"type\":\"datetime\"},{\"name\":\"A\",\"type\":\"long\"},"
    "{\"name\":\"B\",\"type\":\"long\"},{\"name\":\"A\","
    "\"type\":\"long\"},{\"name\":\"TimeGenerated\","
    "\"type\":\"datetime\"}],\"rows\":[[\"2024-05-10T11:00:00Z\","
    "1,2,3,\"2024-05-10T12:00:00Z\"]]}]}";

static const char *const r_types_ev[] = {
    "{\"TimeGenerated\": \"2024-05-10T11:59:59.1234567Z\", "
    "\"Computer\": \"host-1\", \"Count\": 9223372036854775807, "
    "\"Level\": 2147483647, \"Ratio\": 0.1, \"Ok\": true, "
    "\"Id\": \"0b8a6c47-35b2-4d3f-9d4e-1f2a3b4c5d6e\", "
    "\"Span\": \"01:02:03.4560000\", "
    "\"Amount\": \"12345678901234567890.1234567890\", "
    "\"Props\": \"{\\\"a\\\":[1,2.5,null],\\\"b\\\":\\\"x\\\\\\\""
    "y\\\"}\", \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"wazuh-tag\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:59:59Z\", "
    "\"Computer\": null, \"Count\": null, \"Level\": null, "
    "\"Ratio\": null, \"Ok\": null, \"Id\": null, "
    "\"Span\": null, \"Amount\": null, \"Props\": null, "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"wazuh-tag\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:59:59.5Z\", "
    "\"Computer\": \"\", \"Count\": -9223372036854775808, "
    "\"Level\": -2147483648, \"Ratio\": -0.0, \"Ok\": false, "
    "\"Id\": \"00000000-0000-0000-0000-000000000000\", "
    "\"Span\": \"-1.00:00:00\", \"Amount\": \"-0.5\", "
    "\"Props\": \"[]\", \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"wazuh-tag\"}",
    "{\"TimeGenerated\": \"2024-05-10T12:00:00.0000001Z\", "
    "\"Computer\": \"h\", \"Count\": 9223372036854775806, "
    "\"Level\": 0, \"Ratio\": 1e-05, \"Ok\": true, \"Id\": \"\", "
    "\"Span\": \"00:00:00\", \"Amount\": \"0\", "
    "\"Props\": \"{}\", \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"wazuh-tag\"}",
    NULL,
};

static const char *const r_types_ev_notag[] = {
    "{\"TimeGenerated\": \"2024-05-10T11:59:59.1234567Z\", "
    "\"Computer\": \"host-1\", \"Count\": 9223372036854775807, "
    "\"Level\": 2147483647, \"Ratio\": 0.1, \"Ok\": true, "
    "\"Id\": \"0b8a6c47-35b2-4d3f-9d4e-1f2a3b4c5d6e\", "
    "\"Span\": \"01:02:03.4560000\", "
    "\"Amount\": \"12345678901234567890.1234567890\", "
    "\"Props\": \"{\\\"a\\\":[1,2.5,null],\\\"b\\\":\\\"x\\\\\\\""
    "y\\\"}\", \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:59:59Z\", "
    "\"Computer\": null, \"Count\": null, \"Level\": null, "
    "\"Ratio\": null, \"Ok\": null, \"Id\": null, "
    "\"Span\": null, \"Amount\": null, \"Props\": null, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:59:59.5Z\", "
    "\"Computer\": \"\", \"Count\": -9223372036854775808, "
    "\"Level\": -2147483648, \"Ratio\": -0.0, \"Ok\": false, "
    "\"Id\": \"00000000-0000-0000-0000-000000000000\", "
    "\"Span\": \"-1.00:00:00\", \"Amount\": \"-0.5\", "
    "\"Props\": \"[]\", \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T12:00:00.0000001Z\", "
    "\"Computer\": \"h\", \"Count\": 9223372036854775806, "
    "\"Level\": 0, \"Ratio\": 1e-05, \"Ok\": true, \"Id\": \"\", "
    "\"Span\": \"00:00:00\", \"Amount\": \"0\", "
    "\"Props\": \"{}\", \"azure_tag\": \"azure-log-analytics\"}",
    NULL,
};

static const char *const r_reals_ev[] = {
    "{\"TimeGenerated\": \"2024-05-10T11:00:00.000Z\", "
    "\"v\": 0.1, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:01.000Z\", "
    "\"v\": 1e-05, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:02.000Z\", "
    "\"v\": 1e-05, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:03.000Z\", "
    "\"v\": 47.6, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:04.000Z\", "
    "\"v\": 1.5e+16, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:05.000Z\", "
    "\"v\": 1.5e+16, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:06.000Z\", "
    "\"v\": 1.0, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:07.000Z\", "
    "\"v\": 100, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:08.000Z\", "
    "\"v\": -0.0, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:09.000Z\", \"v\": 0, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:10.000Z\", \"v\": 0, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:11.000Z\", "
    "\"v\": 1e+16, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:12.000Z\", "
    "\"v\": 1000000000000000.0, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:13.000Z\", "
    "\"v\": 0.0001, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:14.000Z\", "
    "\"v\": 1e-05, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:15.000Z\", "
    "\"v\": 123456789.123, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:16.000Z\", "
    "\"v\": 5e-324, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:17.000Z\", "
    "\"v\": 1.7976931348623157e+308, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:18.000Z\", "
    "\"v\": 2.2250738585072014e-308, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:19.000Z\", "
    "\"v\": 0.30000000000000004, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:20.000Z\", "
    "\"v\": 9007199254740993, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:21.000Z\", "
    "\"v\": 1e+22, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:22.000Z\", "
    "\"v\": 1.2345678901234568e+16, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:23.000Z\", "
    "\"v\": -47.6, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:24.000Z\", "
    "\"v\": 3.141592653589793, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:25.000Z\", "
    "\"v\": 2.5e-07, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:26.000Z\", "
    "\"v\": 100.0, \"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:27.000Z\", "
    "\"v\": -9223372036854775807, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:28.000Z\", "
    "\"v\": 9223372036854775807, "
    "\"azure_tag\": \"azure-log-analytics\"}",
    NULL,
};

static const char *const r_strings_ev[] = {
    "{\"TimeGenerated\": \"2024-05-10T11:00:00.000Z\", "
    "\"s\": \"jos\\u00e9\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:01.000Z\", "
    "\"s\": \"jos\\u00e9\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:02.000Z\", "
    "\"s\": \"\\u65e5\\u672c\\u8a9e\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:03.000Z\", "
    "\"s\": \"\\ud83d\\ude00\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:04.000Z\", "
    "\"s\": \"\\ud83d\\ude00\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:05.000Z\", "
    "\"s\": \"a\\u0000b\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:06.000Z\", "
    "\"s\": \"\\u0001\\u001f\\u007f\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:07.000Z\", "
    "\"s\": \"tab\\there\\nnl\\r\\b\\f\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:08.000Z\", "
    "\"s\": \"quote\\\" back\\\\ slash/\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:09.000Z\", "
    "\"s\": \"]}\\\"[{,:\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:10.000Z\", "
    "\"s\": \"\\u2028\\u2029\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:11.000Z\", "
    "\"s\": \"\", \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:12.000Z\", "
    "\"s\": \"\\u00ff\", \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    "{\"TimeGenerated\": \"2024-05-10T11:00:13.000Z\", "
    "\"s\": \"\\u007f\", \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"\\u00e9tiquette \\\"x\\\"\"}",
    NULL,
};

static const char *const r_dynamic_ev[] = {
    "{\"TimeGenerated\": \"t1\", "
    "\"Props\": \"{\\\"k\\\":\\\"v\\\",\\\"n\\\":[1,{\\\"x\\\":nu"
    "ll}],\\\"u\\\":\\\"\\\\u00e9\\\"}\", "
    "\"Na\\u00efve \\\"q\\\" \\\\\": \"a\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"t\"}",
    "{\"TimeGenerated\": \"t2\", \"Props\": {\"b\": 2, "
    "\"a\": [1.5, null, true, {\"c\": \"]\"}]}, "
    "\"Na\\u00efve \\\"q\\\" \\\\\": \"b\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"t\"}",
    "{\"TimeGenerated\": \"t3\", \"Props\": [[], [[]], {}], "
    "\"Na\\u00efve \\\"q\\\" \\\\\": \"c\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"t\"}",
    "{\"TimeGenerated\": \"t4\", \"Props\": \"[1, 2]\", "
    "\"Na\\u00efve \\\"q\\\" \\\\\": \"d\", "
    "\"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"t\"}",
    NULL,
};

static const char *const r_tagcol_ev[] = {
    "{\"X\": \"x\", \"azure_tag\": \"azure-log-analytics\", "
    "\"TimeGenerated\": \"2024-05-10T11:00:00Z\", "
    "\"log_analytics_tag\": \"mytag\"}",
    NULL,
};

static const char *const r_tagcol_ev_notag[] = {
    "{\"X\": \"x\", \"azure_tag\": \"azure-log-analytics\", "
    "\"TimeGenerated\": \"2024-05-10T11:00:00Z\", "
    "\"log_analytics_tag\": \"origtag\"}",
    NULL,
};

static const char *const r_dup_ev[] = {
    "{\"TimeGenerated\": \"2024-05-10T12:00:00Z\", \"A\": 3, "
    "\"B\": 2, \"azure_tag\": \"azure-log-analytics\", "
    "\"log_analytics_tag\": \"tag\"}",
    NULL,
};

static void
test_event_types(void **state)
{
	(void)state;
	assert_int_equal(events(r_types, "wazuh-tag", r_types_ev), 0);
	assert_int_equal(events(r_types, NULL, r_types_ev_notag), 0);
	assert_int_equal(events(r_types, "", r_types_ev_notag), 0);
}

static void
test_event_reals(void **state)
{
	(void)state;
	assert_int_equal(events(r_reals, NULL, r_reals_ev), 0);
}

static void
test_event_strings(void **state)
{
	(void)state;
	assert_int_equal(
	    events(r_strings, "\xc3\xa9tiquette \"x\"", r_strings_ev), 0);
}

static void
test_event_dynamic(void **state)
{
	(void)state;
	assert_int_equal(events(r_dynamic, "t", r_dynamic_ev), 0);
}

/* Columns named azure_tag and log_analytics_tag keep their position. */
static void
test_event_tag_columns(void **state)
{
	(void)state;
	assert_int_equal(events(r_tagcol, "mytag", r_tagcol_ev), 2);
	assert_int_equal(events(r_tagcol, NULL, r_tagcol_ev_notag), 2);
	assert_int_equal(events(r_tagcol, "", r_tagcol_ev_notag), 2);
}

/* Duplicate names: the last value, at the first position. */
static void
test_event_duplicate_columns(void **state)
{
	(void)state;
	assert_int_equal(events(r_dup, "tag", r_dup_ev), 0);
}

static int
time_position(const char *columns)
{
	json_t *cols = json_loads(columns, 0, NULL), *names = NULL;
	const char *errstr = NULL;
	int t = -2;

	assert_non_null(cols);
	assert_int_equal(la_columns(cols, &names, &t, "TimeGenerated", &errstr),
			 0);
	assert_int_equal(json_array_size(names), json_array_size(cols));
	json_decref(names);
	json_decref(cols);
	return t;
}

static void
test_columns(void **state)
{
	static const char *const bad[] = {"{}",
					  "\"x\"",
					  "null",
					  "[{}]",
					  "[{\"type\":\"string\"}]",
					  "[{\"name\":\"a\"},{\"name\":1}]",
					  "[{\"name\":null}]",
					  "[\"TimeGenerated\"]",
					  "[{\"name\":\"a\"},[]]",
					  NULL};
	json_t *cols, *names;
	const char *errstr;
	int i, t;

	(void)state;
	assert_int_equal(time_position("[]"), -1);
	assert_int_equal(time_position("[{\"name\":\"TimeGenerated\"}]"), 0);
	assert_int_equal(time_position("[{\"name\":\"a\"},{\"name\":\"b\"},"
				       "{\"name\":\"TimeGenerated\"}]"),
			 2);
	assert_int_equal(time_position("[{\"name\":\"a\"},{\"name\":"
				       "\"TimeGenerated\",\"type\":"
				       "\"datetime\"},{\"name\":\"b\"}]"),
			 1);
	assert_int_equal(time_position("[{\"name\":\"a\"},{\"name\":"
				       "\"TimeGenerated\"},{\"name\":"
				       "\"TimeGenerated\"}]"),
			 1);
	/* the name is compared exactly, as in Python */
	assert_int_equal(time_position("[{\"name\":\"timegenerated\"},"
				       "{\"name\":\"TimeGenerated \"},"
				       "{\"name\":\"Time\"},{\"type\":"
				       "\"TimeGenerated\",\"name\":\"x\"}]"),
			 -1);
	for (i = 0; bad[i] != NULL; i++) {
		cols = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(cols);
		names = NULL;
		errstr = NULL;
		t = -2;
		if (la_columns(cols, &names, &t, "TimeGenerated", &errstr) !=
		    -1)
			fail_msg("la_columns accepted %s", bad[i]);
		assert_non_null(errstr);
		assert_null(names);
		json_decref(cols);
	}
}

/* la_row_event on a row given as JSON text. */
static int
row_event(const char *columns, const char *row, const char *tag,
	  struct buf *out)
{
	json_t *cols = json_loads(columns, 0, NULL), *names = NULL;
	const char *errstr = NULL, *time;
	char err[JSON_ERROR_TEXT_LENGTH];
	int t, rc;

	assert_non_null(cols);
	assert_int_equal(la_columns(cols, &names, &t, "TimeGenerated", &errstr),
			 0);
	rc = la_row_event(names, row, strlen(row), tag, -1, t, out, &time, err,
			  sizeof(err));
	json_decref(names);
	json_decref(cols);
	return rc;
}

#define TA "[{\"name\":\"TimeGenerated\"},{\"name\":\"A\"}]"

static void
test_event_row_length(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 65536);
	/* shorter: -1, nothing written */
	assert_int_equal(row_event(TA, "[\"t\"]", "tag", &b), -1);
	assert_int_equal(row_event(TA, "[]", NULL, &b), -1);
	assert_int_equal(b.len, 0);
	/* not an array */
	assert_int_equal(
	    row_event(TA, "{\"TimeGenerated\":\"t\",\"A\":1}", NULL, &b), -1);
	/* a row is an array: anything else is not JSON to json_loadb */
	assert_int_equal(row_event(TA, "\"t\"", NULL, &b), -2);
	assert_int_equal(b.len, 0);
	/* longer: the extra cells are ignored (Wazuh's Python appends the
	 * tags to the row and reads by position, so it would put "extra" in
	 * azure_tag and 2 in log_analytics_tag: not worth copying) */
	assert_int_equal(row_event(TA, "[\"t\",1,\"extra\",2]", "tag", &b), 0);
	assert_string_equal(
	    buf_cstr(&b), "{\"TimeGenerated\": \"t\", \"A\": 1, \"azure_tag\": "
			  "\"azure-log-analytics\", \"log_analytics_tag\": "
			  "\"tag\"}");
	/* no columns at all */
	buf_reset(&b);
	assert_int_equal(row_event("[]", "[1]", NULL, &b), 0);
	assert_string_equal(buf_cstr(&b),
			    "{\"azure_tag\": \"azure-log-analytics\"}");
	buf_free(&b);
}

static void
test_event_buffer(void **state)
{
	struct buf b;

	(void)state;
	/* events are appended to what the buffer holds */
	buf_init(&b, 65536);
	buf_puts(&b, "1:Azure:");
	assert_int_equal(row_event(TA, "[\"t\",null]", NULL, &b), 0);
	assert_string_equal(buf_cstr(&b),
			    "1:Azure:{\"TimeGenerated\": \"t\", \"A\": null, "
			    "\"azure_tag\": \"azure-log-analytics\"}");
	buf_free(&b);
	/* a full buffer: -1 */
	buf_init(&b, 40);
	assert_int_equal(
	    row_event(TA, "[\"t\",\"a long value of a cell\"]", "tag", &b), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_reparse),
	    cmocka_unit_test(test_query_before_min),
	    cmocka_unit_test(test_query_after_max),
	    cmocka_unit_test(test_query_inside),
	    cmocka_unit_test(test_query_no_offset),
	    cmocka_unit_test(test_query_min_after_max),
	    cmocka_unit_test(test_query_verbatim),
	    cmocka_unit_test(test_query_full_buffer),
	    cmocka_unit_test(test_query_overlap_and_ingestion),
	    cmocka_unit_test(test_bound_query),
	    cmocka_unit_test(test_timespan),
	    cmocka_unit_test(test_key),
	    cmocka_unit_test(test_scan_basic),
	    cmocka_unit_test(test_scan_whitespace),
	    cmocka_unit_test(test_scan_orders),
	    cmocka_unit_test(test_scan_tricky_strings),
	    cmocka_unit_test(test_scan_nested_cells),
	    cmocka_unit_test(test_scan_zero_rows),
	    cmocka_unit_test(test_scan_error),
	    cmocka_unit_test(test_scan_error_null),
	    cmocka_unit_test(test_scan_trailing),
	    cmocka_unit_test(test_scan_garbage),
	    cmocka_unit_test(test_scan_invalid_json),
	    cmocka_unit_test(test_next_row_malformed),
	    cmocka_unit_test(test_scan_truncated),
	    cmocka_unit_test(test_next_row_truncated),
	    cmocka_unit_test(test_partial_error),
	    cmocka_unit_test(test_partial_error_not_json),
	    cmocka_unit_test(test_partial_error_deep),
	    cmocka_unit_test(test_event_types),
	    cmocka_unit_test(test_event_reals),
	    cmocka_unit_test(test_event_strings),
	    cmocka_unit_test(test_event_dynamic),
	    cmocka_unit_test(test_event_tag_columns),
	    cmocka_unit_test(test_event_duplicate_columns),
	    cmocka_unit_test(test_columns),
	    cmocka_unit_test(test_event_row_length),
	    cmocka_unit_test(test_event_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Graph request windows and URLs (fetch.h graph_filter_field,
 * graph_build_filter, graph_build_url), with the semantics of Wazuh's
 * build_graph_url(): reparse -> ge D; D < min -> [D, min) and > max;
 * D > max -> ge D; otherwise > max. D = now - offset, or max.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "date.h"
#include "fetch.h"

#define NOW "2024-05-10T12:00:00.1234567Z"
#define CF  "createdDateTime"

#include "window_helpers.h"

static void
expect_filter(const struct window *w, const char *want)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(graph_build_filter(CF, w, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_field(void **state)
{
	(void)state;
	assert_string_equal(graph_filter_field("auditLogs/signIns"),
			    "createdDateTime");
	assert_string_equal(graph_filter_field("auditlogs/signins"),
			    "createdDateTime");
	assert_string_equal(graph_filter_field("AUDITLOGS/SIGNINS"),
			    "createdDateTime");
	assert_string_equal(graph_filter_field("auditLogs/signIns?$top=5"),
			    "createdDateTime");
	assert_string_equal(graph_filter_field("auditLogs/directoryAudits"),
			    "activityDateTime");
	assert_string_equal(graph_filter_field("auditLogs/provisioning"),
			    "activityDateTime");
	assert_string_equal(graph_filter_field("auditLogs/signIn"),
			    "activityDateTime");
	assert_string_equal(graph_filter_field(""), "activityDateTime");
}

static void
test_reparse(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.000000Z", 3600, 1);

	(void)state;
	expect_filter(&w, CF "+ge+2024-05-10T11:00:00.123456Z");
	/* reparse wins in every case, even far before min */
	w = win("2024-05-10T11:30:00.000000Z", "2024-05-10T11:45:00.000000Z",
		2 * 86400, 1);
	expect_filter(&w, CF "+ge+2024-05-08T12:00:00.123456Z");
}

static void
test_desired_before_min(void **state)
{
	struct window w = win("2024-05-10T11:30:00.1234567Z",
			      "2024-05-10T11:45:00.5Z", 3600, 0);

	(void)state;
	expect_filter(&w, "(" CF "+lt+2024-05-10T11:30:00.1234567Z+and+" CF
			  "+ge+2024-05-10T11:00:00.123456Z)+or+(" CF
			  "+ge+2024-05-10T11:45:00.5000000Z)");
}

static void
test_desired_after_max(void **state)
{
	struct window w =
	    win("2024-05-10T11:00:00Z", "2024-05-10T11:30:00.000000Z", 600, 0);

	(void)state;
	expect_filter(&w, CF "+ge+2024-05-10T11:50:00.123456Z");
}

static void
test_desired_within(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.6195833Z", 3600, 0);

	(void)state;
	expect_filter(&w, CF "+ge+2024-05-10T11:30:00.6195833Z");
	/* the edges belong to "within" */
	w = win("2024-05-10T11:00:00.1234567Z", "2024-05-10T11:30:00Z", 3600,
		0);
	expect_filter(&w, CF "+ge+2024-05-10T11:30:00.0000000Z");
	w = win("2024-05-10T10:00:00Z", "2024-05-10T11:00:00.1234567Z", 3600,
		0);
	expect_filter(&w, CF "+ge+2024-05-10T11:00:00.1234567Z");
}

static void
test_no_offset(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.6195833Z", -1, 0);

	(void)state;
	expect_filter(&w, CF "+ge+2024-05-10T11:30:00.6195833Z");
	w.reparse = 1;
	expect_filter(&w, CF "+ge+2024-05-10T11:30:00.619583Z");
	/* now does not matter without an offset */
	w.reparse = 0;
	w.now = ticks("2030-01-01T00:00:00Z");
	expect_filter(&w, CF "+ge+2024-05-10T11:30:00.6195833Z");
}

/* Overlap and lag: the part after the checkpoint reaches back by the
 * overlap, and everything ends a lag before now, with 7 digits. */
static void
test_overlap_and_lag(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.6195833Z", 3600, 0);

	(void)state;
	w.overlap_secs = 900;
	expect_filter(&w, CF "+ge+2024-05-10T11:15:00.6195833Z");
	w.lag_secs = 60;
	expect_filter(&w, "(" CF "+ge+2024-05-10T11:15:00.6195833Z)+and+" CF
			  "+lt+2024-05-10T11:59:00.1234567Z");
	/* D < min: both parts, the whole bounded */
	w = win("2024-05-10T11:30:00Z", "2024-05-10T11:45:00.5Z", 3600, 0);
	w.overlap_secs = 600;
	w.lag_secs = 30;
	expect_filter(&w, "((" CF "+lt+2024-05-10T11:30:00Z+and+" CF
			  "+ge+2024-05-10T11:00:00.123456Z)+or+(" CF
			  "+ge+2024-05-10T11:35:00.5000000Z))+and+" CF
			  "+lt+2024-05-10T11:59:30.1234567Z");
	/* D > max: the offset's start, not the overlap */
	w = win("2024-05-10T09:00:00Z", "2024-05-10T09:30:00Z", 600, 0);
	w.overlap_secs = 900;
	expect_filter(&w, CF "+ge+2024-05-10T11:50:00.123456Z");
}

static void
test_filter_full_buffer(void **state)
{
	struct window w = win("2024-05-10T10:00:00.000000Z",
			      "2024-05-10T11:30:00.000000Z", 3600, 1);
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(graph_build_filter(CF, &w, &b), -1);
	buf_free(&b);
}

static void
expect_url(const char *query, const char *filter, const char *want)
{
	struct buf b;

	buf_init(&b, 65536);
	assert_int_equal(
	    graph_build_url("https://graph.microsoft.com", query, filter, &b),
	    0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_url(void **state)
{
	(void)state;
	expect_url(
	    "auditLogs/signIns", CF "+ge+2024-05-10T11:00:00.123456Z",
	    "https://graph.microsoft.com/v1.0/auditLogs/signIns?&$filter="
	    "createdDateTime+ge+2024-05-10T11:00:00.123456Z");
	expect_url(
	    "auditLogs/directoryAudits",
	    "(activityDateTime+lt+A+and+activityDateTime+ge+B)+or+"
	    "(activityDateTime+gt+C)",
	    "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?&"
	    "$filter=(activityDateTime+lt+A+and+activityDateTime+ge+B)+or+"
	    "(activityDateTime+gt+C)");
}

static void
test_url_query_with_question_mark(void **state)
{
	(void)state;
	expect_url("auditLogs/signIns?$top=5", CF "+gt+X",
		   "https://graph.microsoft.com/v1.0/auditLogs/signIns?$top=5&"
		   "$filter=createdDateTime+gt+X");
}

static void
test_url_encoding(void **state)
{
	(void)state;
	/* spaces, double quotes and UTF-8 are percent-encoded (as requests
	 * does); characters legal in a URL are kept verbatim */
	expect_url("auditLogs/directoryAudits?$search=\"jos\xc3\xa9 "
		   "\xe6\x97\xa5\xe6\x9c\xac\"&$select=id,activityDisplayName",
		   "F",
		   "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?"
		   "$search=%22jos%C3%A9%20%E6%97%A5%E6%9C%AC%22&"
		   "$select=id,activityDisplayName&$filter=F");
	expect_url("auditLogs/signIns?$filter=userDisplayName eq 'O''Brien'",
		   "F",
		   "https://graph.microsoft.com/v1.0/auditLogs/signIns?$filter="
		   "userDisplayName%20eq%20'O''Brien'&$filter=F");
	expect_url("a<b>c{d}e|f\\g^h`i", "F",
		   "https://graph.microsoft.com/v1.0/"
		   "a%3Cb%3Ec%7Bd%7De%7Cf%5Cg%5Eh%60i?&$filter=F");
	/* an escape the user already wrote is not escaped twice */
	expect_url("auditLogs/signIns?$search=%22x%22", "F",
		   "https://graph.microsoft.com/v1.0/auditLogs/signIns?"
		   "$search=%22x%22&$filter=F");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_field),
	    cmocka_unit_test(test_reparse),
	    cmocka_unit_test(test_desired_before_min),
	    cmocka_unit_test(test_desired_after_max),
	    cmocka_unit_test(test_desired_within),
	    cmocka_unit_test(test_no_offset),
	    cmocka_unit_test(test_overlap_and_lag),
	    cmocka_unit_test(test_filter_full_buffer),
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_url_query_with_question_mark),
	    cmocka_unit_test(test_url_encoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

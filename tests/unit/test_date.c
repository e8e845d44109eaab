/*
 * Dates as Azure and Wazuh write them (common/date.h). Expected instants
 * were computed with Python's calendar.timegm().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "date.h"

#define T(secs, frac) ((int64_t)(secs)*DATE_TICKS_PER_SEC + (frac))

/* 2020-03-13T19:15:41Z */
#define S0 1584126941LL
/* 2020-03-13T00:00:00Z */
#define S0_DAY 1584057600LL

static void
expect_date(const char *s, int64_t want)
{
	int64_t t = 12345;

	if (date_parse(s, &t) != 0)
		fail_msg("date_parse(\"%s\") failed", s);
	if (t != want)
		fail_msg("date_parse(\"%s\") = %lld, want %lld", s,
			 (long long)t, (long long)want);
}

static void
expect_invalid(const char *s)
{
	int64_t t = 12345;

	if (date_parse(s, &t) != -1)
		fail_msg("date_parse(\"%s\") accepted (%lld)", s, (long long)t);
}

static void
test_parse_azure(void **state)
{
	(void)state;
	expect_date("2020-03-13T19:15:41.6195833Z", T(S0, 6195833));
}

static void
test_parse_fraction_digits(void **state)
{
	(void)state;
	expect_date("2020-03-13T19:15:41Z", T(S0, 0));
	expect_date("2020-03-13T19:15:41.6Z", T(S0, 6000000));
	expect_date("2020-03-13T19:15:41.61Z", T(S0, 6100000));
	expect_date("2020-03-13T19:15:41.619Z", T(S0, 6190000));
	expect_date("2020-03-13T19:15:41.6195Z", T(S0, 6195000));
	expect_date("2020-03-13T19:15:41.61958Z", T(S0, 6195800));
	expect_date("2020-03-13T19:15:41.619583Z", T(S0, 6195830));
	expect_date("2020-03-13T19:15:41.6195833Z", T(S0, 6195833));
	expect_date("2020-03-13T19:15:41.0000001Z", T(S0, 1));
	expect_date("2020-03-13T19:15:41.000000Z", T(S0, 0));
}

static void
test_parse_fraction_truncated(void **state)
{
	(void)state;
	expect_date("2020-03-13T19:15:41.61958339Z", T(S0, 6195833));
	expect_date("2020-03-13T19:15:41.619583399999Z", T(S0, 6195833));
	/* truncated, never rounded up into the next second */
	expect_date("2020-03-13T19:15:41.99999999999Z", T(S0, 9999999));
}

static void
test_parse_zones(void **state)
{
	(void)state;
	expect_date("2020-03-13T21:15:41.6195833+02:00", T(S0, 6195833));
	expect_date("2020-03-13T13:45:41.6195833-0530", T(S0, 6195833));
	expect_date("2020-03-13T19:15:41.6195833+00:00", T(S0, 6195833));
	expect_date("2020-03-13T19:15:41.6195833-00:00", T(S0, 6195833));
	/* crossing midnight both ways */
	expect_date("2020-03-14T00:45:41.6195833+05:30", T(S0, 6195833));
	expect_date("2020-03-12T23:15:41-20:00", T(S0, 0));
}

static void
test_parse_legacy_forms(void **state)
{
	(void)state;
	expect_date("2019-08-01 15:49:13.171231+00:00",
		    T(1564674553LL, 1712310));
	expect_date("2022-03-04T15:12:56.98Z", T(1646406776LL, 9800000));
}

static void
test_parse_no_zone_is_utc(void **state)
{
	(void)state;
	expect_date("2020-03-13T19:15:41.6195833", T(S0, 6195833));
	expect_date("2020-03-13T19:15:41", T(S0, 0));
}

static void
test_parse_date_only(void **state)
{
	(void)state;
	expect_date("2020-03-13", T(S0_DAY, 0));
}

static void
test_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "0",
	    "",
	    "2024-02-30T00:00:00Z",
	    "2023-02-29",
	    "2024-01-01T24:00:00Z",
	    "2020-03-13T19:15:41Zjunk",
	    "2020-03-13T19:15:41.6195833Z ",
	    "2020-03-13T19:15:41+02:00x",
	    "2024-13-01",
	    "2024-00-10",
	    "2024-01-00",
	    "2024-01-32",
	    "2024-04-31",
	    "2020-03-13T19:60:00Z",
	    "2020-03-13T19:15:60Z",
	    "2020-03-13T19:15:41.Z",
	    "2020-03-13T19:15:41+25:00",
	    "2020-03-13T19:15:41+02:60",
	    "2020-03-13T19:15:41+02:0",
	    "2020-03-13T",
	    "2020-03-13T19",
	    "2020-3-13",
	    "20200313",
	    "13/03/2020",
	    "now",
	    "0000-01-01",
	    "-2020-03-13",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_invalid(bad[i]);
	{
		int64_t t;

		assert_int_equal(date_parse(NULL, &t), -1);
	}
}

static void
test_ordering_100ns(void **state)
{
	int64_t a, b;

	(void)state;
	assert_int_equal(date_parse("2020-03-13T19:15:41.6195833Z", &a), 0);
	assert_int_equal(date_parse("2020-03-13T19:15:41.6195834Z", &b), 0);
	assert_true(a < b);
	assert_int_equal(b - a, 1);
	assert_int_equal(date_parse("2020-03-13T19:15:41.61958Z", &a), 0);
	assert_int_equal(date_parse("2020-03-13T19:15:41.6195800Z", &b), 0);
	assert_true(a == b);
	/* 6-digit Wazuh strings against 7-digit Azure strings */
	assert_int_equal(date_parse("2020-03-13T19:15:41.619583Z", &a), 0);
	assert_int_equal(date_parse("2020-03-13T19:15:41.6195833Z", &b), 0);
	assert_true(a < b);
}

static void
expect_format(int64_t t, const char *want6, const char *want7)
{
	char out[DATE_STRLEN];

	memset(out, 'x', sizeof(out));
	date_format(t, out);
	assert_string_equal(out, want6);
	memset(out, 'x', sizeof(out));
	date_format_iso(t, out);
	assert_string_equal(out, want7);
}

static void
test_format(void **state)
{
	(void)state;
	expect_format(T(S0, 6195833), "2020-03-13T19:15:41.619583Z",
		      "2020-03-13T19:15:41.6195833Z");
	/* truncation, not rounding */
	expect_format(T(S0, 6195839), "2020-03-13T19:15:41.619583Z",
		      "2020-03-13T19:15:41.6195839Z");
	expect_format(T(S0, 9999999), "2020-03-13T19:15:41.999999Z",
		      "2020-03-13T19:15:41.9999999Z");
	expect_format(T(S0, 0), "2020-03-13T19:15:41.000000Z",
		      "2020-03-13T19:15:41.0000000Z");
	expect_format(0, DATE_EPOCH_STR, "1970-01-01T00:00:00.0000000Z");
	expect_format(T(253402300799LL, 9999999), "9999-12-31T23:59:59.999999Z",
		      "9999-12-31T23:59:59.9999999Z");
}

static void
test_before_1970(void **state)
{
	int64_t t;

	(void)state;
	expect_date("1969-12-31T23:59:59.9999999Z", -1);
	expect_format(-1, "1969-12-31T23:59:59.999999Z",
		      "1969-12-31T23:59:59.9999999Z");
	/* truncation toward the past, not toward 1970 */
	expect_format(-5, "1969-12-31T23:59:59.999999Z",
		      "1969-12-31T23:59:59.9999995Z");
	expect_format(-10, "1969-12-31T23:59:59.999999Z",
		      "1969-12-31T23:59:59.9999990Z");
	expect_format(-11, "1969-12-31T23:59:59.999998Z",
		      "1969-12-31T23:59:59.9999989Z");
	expect_date("1969-07-20T20:17:40Z", T(-14182940LL, 0));
	expect_format(T(-14182940LL, 0), "1969-07-20T20:17:40.000000Z",
		      "1969-07-20T20:17:40.0000000Z");
	expect_date("1900-01-01T00:00:00Z", T(-2208988800LL, 0));
	expect_date("0001-01-01T00:00:00Z", T(-62135596800LL, 0));
	expect_format(T(-62135596800LL, 0), "0001-01-01T00:00:00.000000Z",
		      "0001-01-01T00:00:00.0000000Z");
	assert_int_equal(date_parse("1900-03-01", &t), 0);
	expect_format(t - DATE_TICKS_PER_SEC * 86400,
		      "1900-02-28T00:00:00.000000Z",
		      "1900-02-28T00:00:00.0000000Z");
}

static void
test_leap_years(void **state)
{
	int64_t t;

	(void)state;
	expect_date("2000-02-29", T(951782400LL, 0));
	expect_date("2000-02-29T12:00:00Z", T(951825600LL, 0));
	expect_invalid("1900-02-29");
	expect_invalid("2100-02-29");
	expect_invalid("2023-02-29T00:00:00Z");
	assert_int_equal(date_parse("2024-02-29T23:59:59Z", &t), 0);
	assert_int_equal(date_parse("2024-02-28T23:59:59.9999999Z", &t), 0);
	expect_format(t + 1, "2024-02-29T00:00:00.000000Z",
		      "2024-02-29T00:00:00.0000000Z");
	assert_int_equal(date_parse("2023-02-28T23:59:59.9999999Z", &t), 0);
	expect_format(t + 1, "2023-03-01T00:00:00.000000Z",
		      "2023-03-01T00:00:00.0000000Z");
	assert_int_equal(date_parse("2024-12-31T23:59:59.9999999Z", &t), 0);
	expect_format(t + 1, "2025-01-01T00:00:00.000000Z",
		      "2025-01-01T00:00:00.0000000Z");
}

static void
test_roundtrips(void **state)
{
	static const char *const iso7[] = {
	    "2020-03-13T19:15:41.6195833Z", "1970-01-01T00:00:00.0000000Z",
	    "1969-12-31T23:59:59.9999999Z", "2000-02-29T00:00:00.0000001Z",
	    "2038-01-19T03:14:08.0000000Z", "9999-12-31T23:59:59.9999999Z",
	    "0001-01-01T00:00:00.0000000Z", "1601-01-01T00:00:00.5000000Z",
	};
	static const char *const iso6[] = {
	    "2022-03-04T15:12:56.980000Z",
	    "2019-08-01T15:49:13.171231Z",
	    DATE_EPOCH_STR,
	    "1955-11-05T06:15:00.000001Z",
	};
	char out[DATE_STRLEN];
	int64_t t, t2;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(iso7) / sizeof(iso7[0]); i++) {
		assert_int_equal(date_parse(iso7[i], &t), 0);
		date_format_iso(t, out);
		assert_string_equal(out, iso7[i]);
		assert_int_equal(date_parse(out, &t2), 0);
		assert_true(t == t2);
	}
	for (i = 0; i < sizeof(iso6) / sizeof(iso6[0]); i++) {
		assert_int_equal(date_parse(iso6[i], &t), 0);
		date_format(t, out);
		assert_string_equal(out, iso6[i]);
	}
	/* every tick value near the epoch and near a day boundary */
	for (t = -30; t <= 30; t++) {
		date_format_iso(t, out);
		assert_int_equal(date_parse(out, &t2), 0);
		assert_true(t == t2);
		date_format(t, out);
		assert_int_equal(date_parse(out, &t2), 0);
		assert_true(t2 <= t && t - t2 < 10);
	}
}

static void
test_today(void **state)
{
	char out[DATE_STRLEN];
	int64_t t;

	(void)state;
	assert_true(date_today(T(S0, 6195833)) == T(S0_DAY, 0));
	assert_true(date_today(T(S0_DAY, 0)) == T(S0_DAY, 0));
	assert_true(date_today(T(S0_DAY, 0) - 1) == T(S0_DAY - 86400, 0));
	assert_true(date_today(0) == 0);
	assert_true(date_today(-1) == -86400LL * DATE_TICKS_PER_SEC);
	assert_int_equal(date_parse("1969-07-20T20:17:40.5Z", &t), 0);
	date_format(date_today(t), out);
	assert_string_equal(out, "1969-07-20T00:00:00.000000Z");
}

static void
test_now(void **state)
{
	int64_t before = (int64_t)time(NULL), now = date_now();
	int64_t after = (int64_t)time(NULL);
	char out[DATE_STRLEN];
	int64_t back;

	(void)state;
	assert_true(now >= before * DATE_TICKS_PER_SEC);
	assert_true(now < (after + 1) * DATE_TICKS_PER_SEC);
	/* microsecond clock: a formatted now reads back as the same instant */
	assert_int_equal(now % 10, 0);
	date_format(now, out);
	assert_int_equal(date_parse(out, &back), 0);
	assert_true(back == now);
}

static void
expect_canonical(const char *in, const char *want)
{
	char out[DATE_STRLEN];

	memset(out, 'x', sizeof(out));
	if (date_canonical(in, out) != 0)
		fail_msg("date_canonical(\"%s\") failed", in);
	if (strcmp(out, want) != 0)
		fail_msg("date_canonical(\"%s\") = \"%s\", want \"%s\"", in,
			 out, want);
}

static void
test_canonical(void **state)
{
	char out[DATE_STRLEN];

	(void)state;
	/* Azure's and Wazuh's own forms are kept verbatim */
	expect_canonical("2020-03-13T19:15:41.6195833Z",
			 "2020-03-13T19:15:41.6195833Z");
	expect_canonical("2020-03-13T19:15:41.619583Z",
			 "2020-03-13T19:15:41.619583Z");
	/* legacy forms are rewritten */
	expect_canonical("2019-08-01 15:49:13.171231+00:00",
			 "2019-08-01T15:49:13.171231Z");
	expect_canonical("2022-03-04T15:12:56.98Z",
			 "2022-03-04T15:12:56.980000Z");
	expect_canonical("2020-03-13T19:15:41Z", "2020-03-13T19:15:41.000000Z");
	expect_canonical("2020-03-13", "2020-03-13T00:00:00.000000Z");
	expect_canonical("2020-03-13T19:15:41.619583",
			 "2020-03-13T19:15:41.619583Z");
	/* offsets are converted to UTC */
	expect_canonical("2020-03-13T21:15:41.619583+02:00",
			 "2020-03-13T19:15:41.619583Z");
	expect_canonical("2020-03-14T01:15:41+02:00",
			 "2020-03-13T23:15:41.000000Z");
	expect_canonical("2020-03-13T13:45:41.6195833-05:30",
			 "2020-03-13T19:15:41.619583Z");
	assert_int_equal(date_canonical("0", out), -1);
	assert_int_equal(date_canonical("", out), -1);
	assert_int_equal(date_canonical("2023-02-29T00:00:00.000000Z", out),
			 -1);
	assert_int_equal(
	    date_canonical("2020-03-13T19:15:41.6195833Zjunk", out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_azure),
	    cmocka_unit_test(test_parse_fraction_digits),
	    cmocka_unit_test(test_parse_fraction_truncated),
	    cmocka_unit_test(test_parse_zones),
	    cmocka_unit_test(test_parse_legacy_forms),
	    cmocka_unit_test(test_parse_no_zone_is_utc),
	    cmocka_unit_test(test_parse_date_only),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_ordering_100ns),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_before_1970),
	    cmocka_unit_test(test_leap_years),
	    cmocka_unit_test(test_roundtrips),
	    cmocka_unit_test(test_today),
	    cmocka_unit_test(test_now),
	    cmocka_unit_test(test_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

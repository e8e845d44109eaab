/*
 * Wazuh's time offsets (util.h offset_parse): "<N>m|h|d", spaces ignored.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "date.h"
#include "util.h"

static void
expect_offset(const char *s, int64_t want)
{
	int64_t v = -12345;

	if (offset_parse(s, &v) != 0)
		fail_msg("offset_parse(\"%s\") refused", s);
	if (v != want)
		fail_msg("offset_parse(\"%s\") = %lld, want %lld", s,
			 (long long)v, (long long)want);
}

static void
expect_refused(const char *s)
{
	int64_t v = -12345;

	if (offset_parse(s, &v) != -1)
		fail_msg("offset_parse(\"%s\") accepted (%lld)", s,
			 (long long)v);
	if (v != -12345)
		fail_msg("offset_parse(\"%s\") wrote %lld on failure", s,
			 (long long)v);
}

static void
test_units(void **state)
{
	(void)state;
	expect_offset("1h", 3600);
	expect_offset("30m", 1800);
	expect_offset("2d", 172800);
	expect_offset("1m", 60);
	expect_offset("1d", 86400);
	expect_offset("48h", 172800);
	expect_offset("365d", 31536000);
}

static void
test_spaces(void **state)
{
	(void)state;
	expect_offset(" 1 h ", 3600);
	expect_offset("1 0m", 600);
	expect_offset("   30m", 1800);
	expect_offset("30m   ", 1800);
}

static void
test_zero(void **state)
{
	(void)state;
	expect_offset("0m", 0);
	expect_offset("0h", 0);
	expect_offset("0d", 0);
	expect_offset("007m", 420);
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
	    "1",    "h",   "1s",  "1w",	   "-1h",   "1.5h",
	    "1hh",  "1h2", "",	  " ",	   "1H",    "1M",
	    "1D",   "m1",  "+1h", "1 h m", "one h", "99999999999999999999h",
	    "\t1h",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i]);
}

/* Large but representable offsets are exact. */
static void
test_large(void **state)
{
	(void)state;
	expect_offset("100000d", 8640000000LL);
	expect_offset("10000d", 864000000LL);
	expect_offset("1000000h", 3600000000LL);
}

/*
 * Every role turns the offset into 100 ns ticks (now - offset * 10^7, in
 * graph_build_filter() and in the statekeeper's new-row date). An offset
 * accepted here must therefore fit in int64 ticks; larger ones must be
 * refused with Wazuh's "Invalid offset format" rather than overflow.
 */
static void
test_overflow_refused(void **state)
{
	static const char *const huge[] = {
	    "30000000d", /* ~82000 years */
	    "1000000000d",
	    "999999999999999999d",
	    "9223372036854775807m",
	    "18446744073709551616h",
	    "300000000000h",
	};
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		v = 0;
		if (offset_parse(huge[i], &v) == 0 &&
		    v > INT64_MAX / DATE_TICKS_PER_SEC)
			fail_msg("offset_parse(\"%s\") accepted %lld s, which "
				 "overflows int64 100 ns ticks",
				 huge[i], (long long)v);
	}
}

/* Our durations: plain seconds or s/m/h/d. */
static void
test_durations(void **state)
{
	static const char *bad[] = {"",	    "m",  "5x",
				    "1.5h", "-1", "5 m",
				    "5mm",  "m5", "99999999999999999999"};
	int64_t v;
	size_t i;

	(void)state;
	assert_int_equal(duration_parse("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(duration_parse("30s", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(duration_parse("15m", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(duration_parse("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(duration_parse("1d", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(duration_parse("0", &v), 0);
	assert_int_equal(v, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (duration_parse(bad[i], &v) != -1)
			fail_msg("duration_parse accepted \"%s\"", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_spaces),
	    cmocka_unit_test(test_zero),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_overflow_refused),
	    cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Python-compatible JSON (common/pyjson.h): pyjson_dump() must give
 * exactly what Python's json.dumps() gives with its defaults, byte for
 * byte. Every expected string below was produced by python3's json.dumps()
 * (the input text through json.loads(), or the float itself).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "pyjson.h"

struct doc {
	const char *in;	  /* JSON text, parsed with jansson */
	const char *want; /* json.dumps(json.loads(in)) */
};

static const struct doc docs[] = {
    {"{\"a\": {}, \"b\": [], \"c\": [{}, []], \"d\": [1, [2, {\"e\": {}}]]}",
     "{\"a\": {}, \"b\": [], \"c\": [{}, []], \"d\": [1, [2, {\"e\": {}}]]}"},
    {"{}", "{}"},
    {"[]", "[]"},
    {"[[[]]]", "[[[]]]"},
    {"{\"k\":{\"k\":{\"k\":{}}}}", "{\"k\": {\"k\": {\"k\": {}}}}"},
    {"{\"z\":1,\"a\":2,\"m\":{\"y\":1,\"b\":2},\"0\":null}",
     "{\"z\": 1, \"a\": 2, \"m\": {\"y\": 1, \"b\": 2}, \"0\": null}"},
    {"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\": 3, \"b\": 2}"},
    {"[\"\\u00e9\", \"\\u65e5\\u672c\", \"\\ud83d\\ude00\"]",
     "[\"\\u00e9\", \"\\u65e5\\u672c\", \"\\ud83d\\ude00\"]"},
    {"\"caf\303\251 \346\227\245\346\234\254\350\252\236 \360\237\230\200 "
     "\364\217\277\277 \342\202\254 \302\200 \337\277 \340\240\200 "
     "\357\277\277\"",
     "\"caf\\u00e9 \\u65e5\\u672c\\u8a9e \\ud83d\\ude00 \\udbff\\udfff \\u20ac "
     "\\u0080 \\u07ff \\u0800 \\uffff\""},
    {"\"\\u0001\\u0002\\u001f\\b\\f\\n\\r\\t\\u000b\\u007f\"",
     "\"\\u0001\\u0002\\u001f\\b\\f\\n\\r\\t\\u000b\\u007f\""},
    {"\"quote \\\" backslash \\\\ slash / both \\\\\\\"\"",
     "\"quote \\\" backslash \\\\ slash / both \\\\\\\"\""},
    {"\"http://x/y?z=1&w=<tag>\"", "\"http://x/y?z=1&w=<tag>\""},
    {"[0, -1, 1, 9223372036854775807, -9223372036854775808, 4294967296, "
     "-4294967297]",
     "[0, -1, 1, 9223372036854775807, -9223372036854775808, 4294967296, "
     "-4294967297]"},
    {"[true, false, null]", "[true, false, null]"},
    {"{\"createdDateTime\": \"2020-03-13T19:15:41.6195833Z\", \"location\": "
     "{\"geoCoordinates\": {\"latitude\": 47.6, \"longitude\": -122.3, "
     "\"altitude\": null}}, \"status\": {\"errorCode\": 0}, "
     "\"riskEventTypes\": [], \"appliedConditionalAccessPolicies\": [{}]}",
     "{\"createdDateTime\": \"2020-03-13T19:15:41.6195833Z\", \"location\": "
     "{\"geoCoordinates\": {\"latitude\": 47.6, \"longitude\": -122.3, "
     "\"altitude\": null}}, \"status\": {\"errorCode\": 0}, "
     "\"riskEventTypes\": [], \"appliedConditionalAccessPolicies\": [{}]}"},
    {"[1.0, 2.5, 100.0, -0.5, 1e2, 1E-3, 0.0, 12345678901234567890.0]",
     "[1.0, 2.5, 100.0, -0.5, 100.0, 0.001, 0.0, 1.2345678901234567e+19]"},
    {"{\"\\u00e9t\\u00e9\": \"\\u00e9\", \"tab\\tkey\": 1, \"\": \"\"}",
     "{\"\\u00e9t\\u00e9\": \"\\u00e9\", \"tab\\tkey\": 1, \"\": \"\"}"},
};

struct real {
	double x;
	const char *want; /* json.dumps(x) */
};

static const struct real reals[] = {
    {47.6, "47.6"},
    {-122.3, "-122.3"},
    {0.1, "0.1"},
    {1e+16, "1e+16"},
    {1000000000000000.0, "1000000000000000.0"},
    {1e-05, "1e-05"},
    {0.0001, "0.0001"},
    {1.5e-07, "1.5e-07"},
    {-0.0, "-0.0"},
    {0.0, "0.0"},
    {123456789.123, "123456789.123"},
    {5e-324, "5e-324"},
    {1.7976931348623157e+308, "1.7976931348623157e+308"},
    {0.30000000000000004, "0.30000000000000004"},
    {100.0, "100.0"},
    {1e+22, "1e+22"},
    {1.0, "1.0"},
    {-1.0, "-1.0"},
    {0.5, "0.5"},
    {2.5e-05, "2.5e-05"},
    {9007199254740992.0, "9007199254740992.0"},
    {1.2345678901234568e-300, "1.2345678901234568e-300"},
    {1.2345678901234568e+17, "1.2345678901234568e+17"},
    {9999999999999998.0, "9999999999999998.0"},
    {0.001, "0.001"},
    {0.3333333333333333, "0.3333333333333333"},
    {0.6666666666666666, "0.6666666666666666"},
    {1e+100, "1e+100"},
    {4.35, "4.35"},
    {1.5e-323, "1.5e-323"},
    {1e+23, "1e+23"},
    {5e-05, "5e-05"},
    {1e+23, "1e+23"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {8.98846567431158e+307, "8.98846567431158e+307"},
    {0.0009765625, "0.0009765625"},
};

/* On a mismatch v is released before failing (the caller never resumes),
 * so a failure is reported without a leak report on top of it. */
static void
expect_dump(json_t *v, const char *want, const char *what)
{
	static char got[4096];
	struct buf b;
	int rc, same;

	buf_init(&b, 1 << 20);
	rc = pyjson_dump(v, &b);
	same = rc == 0 && b.len == strlen(want) &&
	       memcmp(b.data, want, b.len) == 0;
	snprintf(got, sizeof(got), "%s", rc == 0 ? buf_cstr(&b) : "(failed)");
	buf_free(&b);
	if (!same) {
		json_decref(v);
		fail_msg("pyjson_dump(%s)\n  got  %s\n  want %s", what, got,
			 want);
	}
}

static void
test_documents(void **state)
{
	json_error_t jerr;
	json_t *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		v = json_loads(docs[i].in, JSON_DECODE_ANY, &jerr);
		if (v == NULL)
			fail_msg("jansson refused %s: %s", docs[i].in,
				 jerr.text);
		expect_dump(v, docs[i].want, docs[i].in);
		json_decref(v);
	}
}

static void
test_separators_and_order(void **state)
{
	json_t *o = json_object(), *a = json_array();

	(void)state;
	json_object_set_new(o, "zeta", json_integer(1));
	json_object_set_new(o, "alpha", json_string("x"));
	json_object_set_new(o, "mid", a);
	json_array_append_new(a, json_true());
	json_array_append_new(a, json_null());
	json_array_append_new(a, json_object());
	expect_dump(o,
		    "{\"zeta\": 1, \"alpha\": \"x\", \"mid\": "
		    "[true, null, {}]}",
		    "built object");
	/* replacing a value keeps the key where it was, as a dict does */
	json_object_set_new(o, "zeta", json_integer(2));
	expect_dump(o,
		    "{\"zeta\": 2, \"alpha\": \"x\", \"mid\": "
		    "[true, null, {}]}",
		    "after replace");
	json_decref(o);
}

static void
test_integers(void **state)
{
	json_t *v;

	(void)state;
	v = json_integer(INT64_MAX);
	expect_dump(v, "9223372036854775807", "INT64_MAX");
	json_decref(v);
	v = json_integer(INT64_MIN);
	expect_dump(v, "-9223372036854775808", "INT64_MIN");
	json_decref(v);
	v = json_integer(-42);
	expect_dump(v, "-42", "-42");
	json_decref(v);
}

static void
test_reals(void **state)
{
	char what[64];
	json_t *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		v = json_real(reals[i].x);
		assert_non_null(v);
		snprintf(what, sizeof(what), "%.17g", reals[i].x);
		expect_dump(v, reals[i].want, what);
		json_decref(v);
	}
}

/*
 * Powers of two sit at a binade edge: the gap below them is half the gap
 * above, so the correctly rounded 16-digit decimal may not read back while
 * the one just above it does. Python's repr() finds that shortest string.
 */
static void
test_reals_powers_of_two(void **state)
{
	static const struct real p2[] = {
	    {0x1p-24, "5.960464477539063e-08"},
	    {0x1p-44, "5.684341886080802e-14"},
	    {0x1p89, "6.189700196426902e+26"},
	    {-0x1p-24, "-5.960464477539063e-08"},
	    {0x1p-10, "0.0009765625"},
	    {0x1p1023, "8.98846567431158e+307"},
	};
	char what[64];
	json_t *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(p2) / sizeof(p2[0]); i++) {
		v = json_real(p2[i].x);
		snprintf(what, sizeof(what), "%a", p2[i].x);
		expect_dump(v, p2[i].want, what);
		json_decref(v);
	}
}

static void
test_non_finite(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(pyjson_real(NAN, &b), 0);
	assert_string_equal(buf_cstr(&b), "NaN");
	buf_reset(&b);
	assert_int_equal(pyjson_real(INFINITY, &b), 0);
	assert_string_equal(buf_cstr(&b), "Infinity");
	buf_reset(&b);
	assert_int_equal(pyjson_real(-INFINITY, &b), 0);
	assert_string_equal(buf_cstr(&b), "-Infinity");
	buf_free(&b);
}

static void
test_embedded_nul(void **state)
{
	json_error_t jerr;
	json_t *v;

	(void)state;
	v = json_loads("\"x\\u0000y\"", JSON_DECODE_ANY | JSON_ALLOW_NUL,
		       &jerr);
	assert_non_null(v);
	assert_int_equal(json_string_length(v), 3);
	expect_dump(v, "\"x\\u0000y\"", "string with NUL");
	json_decref(v);
	/* (jansson refuses NUL in object keys, even with JSON_ALLOW_NUL) */
	v = json_loads("{\"k\": [\"a\\u0000\", \"\\u0000\\u00e9\"]}",
		       JSON_ALLOW_NUL, &jerr);
	assert_non_null(v);
	expect_dump(v, "{\"k\": [\"a\\u0000\", \"\\u0000\\u00e9\"]}",
		    "nested NUL");
	json_decref(v);
	v = json_stringn("\0\0", 2);
	expect_dump(v, "\"\\u0000\\u0000\"", "json_stringn NULs");
	json_decref(v);
}

static void
test_every_ascii_char(void **state)
{
	/* python3 -c 'import
	 * json;print(json.dumps("".join(map(chr,range(1,128)))))' */
	static const char want[] =
	    "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n"
	    "\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014"
	    "\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d"
	    "\\u001e\\u001f !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLM"
	    "NOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\\u007f\"";
	char s[128];
	json_t *v;
	int i;

	(void)state;
	for (i = 1; i < 128; i++)
		s[i - 1] = (char)i;
	v = json_stringn(s, 127);
	assert_non_null(v);
	expect_dump(v, want, "ASCII 1..127");
	json_decref(v);
}

static void
test_buffer_limit(void **state)
{
	json_t *v = json_pack("{s:s}", "key", "a long enough value");
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(pyjson_dump(v, &b), -1);
	buf_free(&b);
	json_decref(v);
}

/* Lone surrogates: Python's json.loads() accepts them and json.dumps()
 * writes them back; jansson refuses them, so pyjson_load() carries them
 * through. Expected text from python3 (see the comment in each case). */
static void
test_lone_surrogates(void **state)
{
	/* json.dumps(json.loads(IN)) */
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"{\"a\": \"x\\ud800y\"}", "{\"a\": \"x\\ud800y\"}"},
	    {"{\"b\": \"\\udc00\"}", "{\"b\": \"\\udc00\"}"},
	    {"{\"c\": \"\\ud83d\\ude80\"}", "{\"c\": \"\\ud83d\\ude80\"}"},
	    {"{\"d\": \"\\\\ud800\"}", "{\"d\": \"\\\\ud800\"}"},
	    {"[\"\\udbff\\ud800\\udc00\"]", "[\"\\udbff\\ud800\\udc00\"]"},
	    {"[\"\\uDFFF end\"]", "[\"\\udfff end\"]"},
	};
	json_error_t err;
	struct buf b;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = pyjson_load(cases[i].in, strlen(cases[i].in), &err);
		assert_non_null(j);
		buf_init(&b, 1024);
		assert_int_equal(pyjson_dump(j, &b), 0);
		assert_string_equal(buf_cstr(&b), cases[i].want);
		buf_free(&b);
		json_decref(j);
	}
	j = pyjson_load("[\"\\ud800", 8, &err);
	assert_null(j);
}

/* A text made of little but lone surrogates (each escape grows from 6
 * bytes to 18 in the rewrite) loads and reads back the same. */
static void
test_many_lone_surrogates(void **state)
{
	struct buf in, out;
	json_error_t err;
	json_t *j;
	int i;

	(void)state;
	buf_init(&in, 1 << 20);
	buf_puts(&in, "[\"");
	for (i = 0; i < 5000; i++)
		buf_puts(&in, "\\udc80");
	buf_puts(&in, "\"]");
	j = pyjson_load(in.data, in.len, &err);
	assert_non_null(j);
	buf_init(&out, 1 << 20);
	assert_int_equal(pyjson_dump(j, &out), 0);
	assert_int_equal(out.len, in.len);
	assert_memory_equal(out.data, in.data, in.len);
	json_decref(j);
	buf_free(&in);
	buf_free(&out);
}

/* The streaming transcoder (pyjson_fast.c): what Python writes, and the
 * same as the jansson path, or it gives up. */
static const struct doc fast_docs[] = {
    /* a Graph signIns item (tests/mock/gen_graph.py), compact, raw UTF-8 */
    {"{\"id\":\"70feb379-b9c6-4d6e-9149-ee5b3aaf3e89\",\"createdDateTime\":\""
     "2026-01-01T00:59:56.8339462Z\",\"userDisplayName\":\"Megan Bowen\""
     ",\"userPrincipalName\":\"MeganB@wazuh.example\",\"userId\":\"6d69"
     "2884-fd69-4513-9978-60258f9f6a60\",\"appId\":\"00000002-0000-0ff1"
     "-ce00-000000000000\",\"appDisplayName\":\"Office 365 Exchange Onl"
     "ine\",\"ipAddress\":\"185.223.136.48\",\"clientAppUsed\":\"Mobile"
     " Apps and Desktop clients\",\"correlationId\":\"f653e026-5490-4ba"
     "5-8d87-32e8db64f223\",\"conditionalAccessStatus\":\"failure\",\"i"
     "sInteractive\":true,\"riskDetail\":\"none\",\"riskLevelAggregated"
     "\":\"none\",\"riskLevelDuringSignIn\":\"none\",\"riskState\":\"no"
     "ne\",\"riskEventTypes\":[],\"riskEventTypes_v2\":[],\"resourceDis"
     "playName\":\"Office 365 Exchange Online\",\"resourceId\":\"000000"
     "02-0000-0ff1-ce00-000000000000\",\"status\":{\"errorCode\":53003,"
     "\"failureReason\":\"Access has been blocked by Conditional Access"
     " policies. The access policy does not allow token issuance.\",\"a"
     "dditionalDetails\":null},\"deviceDetail\":{\"deviceId\":\"\",\"di"
     "splayName\":\"\",\"operatingSystem\":\"Windows 11\",\"browser\":\""
     "Chrome 121.0.0\",\"isCompliant\":false,\"isManaged\":false,\"trus"
     "tType\":\"\"},\"location\":{\"city\":\"Redmond\",\"state\":\"Wash"
     "ington\",\"countryOrRegion\":\"US\",\"geoCoordinates\":{\"altitud"
     "e\":null,\"latitude\":47.661647,\"longitude\":-122.10838}},\"appl"
     "iedConditionalAccessPolicies\":[{\"id\":\"e3a16ea6-78eb-45e9-877f"
     "-47040d2191f5\",\"displayName\":\"Require MFA for admins\",\"enfo"
     "rcedGrantControls\":[\"Mfa\"],\"enforcedSessionControls\":[],\"re"
     "sult\":\"notApplied\"},{\"id\":\"1c4bd476-7015-4390-9872-44775b12"
     "c2d5\",\"displayName\":\"Sign-in frequency \346\227\245\346\234\254"
     "\",\"enforcedGrantControls\":[],\"enforcedSessionControls\":[\"Si"
     "gnInFrequency\"],\"result\":\"notEnabled\"},{\"id\":\"61d89b07-df"
     "a0-439a-9187-7ebfe60e212b\",\"displayName\":\"Block legacy authen"
     "tication\",\"enforcedGrantControls\":[\"Block\"],\"enforcedSessio"
     "nControls\":[],\"result\":\"failure\"}]}",
     "{\"id\": \"70feb379-b9c6-4d6e-9149-ee5b3aaf3e89\", \"createdDateTime\""
     ": \"2026-01-01T00:59:56.8339462Z\", \"userDisplayName\": \"Megan "
     "Bowen\", \"userPrincipalName\": \"MeganB@wazuh.example\", \"userI"
     "d\": \"6d692884-fd69-4513-9978-60258f9f6a60\", \"appId\": \"00000"
     "002-0000-0ff1-ce00-000000000000\", \"appDisplayName\": \"Office 3"
     "65 Exchange Online\", \"ipAddress\": \"185.223.136.48\", \"client"
     "AppUsed\": \"Mobile Apps and Desktop clients\", \"correlationId\""
     ": \"f653e026-5490-4ba5-8d87-32e8db64f223\", \"conditionalAccessSt"
     "atus\": \"failure\", \"isInteractive\": true, \"riskDetail\": \"n"
     "one\", \"riskLevelAggregated\": \"none\", \"riskLevelDuringSignIn"
     "\": \"none\", \"riskState\": \"none\", \"riskEventTypes\": [], \""
     "riskEventTypes_v2\": [], \"resourceDisplayName\": \"Office 365 Ex"
     "change Online\", \"resourceId\": \"00000002-0000-0ff1-ce00-000000"
     "000000\", \"status\": {\"errorCode\": 53003, \"failureReason\": \""
     "Access has been blocked by Conditional Access policies. The acces"
     "s policy does not allow token issuance.\", \"additionalDetails\":"
     " null}, \"deviceDetail\": {\"deviceId\": \"\", \"displayName\": \""
     "\", \"operatingSystem\": \"Windows 11\", \"browser\": \"Chrome 12"
     "1.0.0\", \"isCompliant\": false, \"isManaged\": false, \"trustTyp"
     "e\": \"\"}, \"location\": {\"city\": \"Redmond\", \"state\": \"Wa"
     "shington\", \"countryOrRegion\": \"US\", \"geoCoordinates\": {\"a"
     "ltitude\": null, \"latitude\": 47.661647, \"longitude\": -122.108"
     "38}}, \"appliedConditionalAccessPolicies\": [{\"id\": \"e3a16ea6-"
     "78eb-45e9-877f-47040d2191f5\", \"displayName\": \"Require MFA for"
     " admins\", \"enforcedGrantControls\": [\"Mfa\"], \"enforcedSessio"
     "nControls\": [], \"result\": \"notApplied\"}, {\"id\": \"1c4bd476"
     "-7015-4390-9872-44775b12c2d5\", \"displayName\": \"Sign-in freque"
     "ncy \\u65e5\\u672c\", \"enforcedGrantControls\": [], \"enforcedSe"
     "ssionControls\": [\"SignInFrequency\"], \"result\": \"notEnabled\""
     "}, {\"id\": \"61d89b07-dfa0-439a-9187-7ebfe60e212b\", \"displayNa"
     "me\": \"Block legacy authentication\", \"enforcedGrantControls\":"
     " [\"Block\"], \"enforcedSessionControls\": [], \"result\": \"fail"
     "ure\"}]}"},
    {"[1e16, 1e-5, 0.1, 5e-324, 1.7976931348623157e308, 123456789012345678, "
     "-0, -0.0, 1E+2]",
     "[1e+16, 1e-05, 0.1, 5e-324, 1.7976931348623157e+308, 123456789012345678, "
     "0, -0.0, 100.0]"},
    {"[0.30000000000000004, 1.0000000000000002, 2.2250738585072014e-308, "
     "1e-310, 123e-20, 0.0001, 0.00001, 1e15, 1e17]",
     "[0.30000000000000004, 1.0000000000000002, 2.2250738585072014e-308, "
     "1e-310, 1.23e-18, 0.0001, 1e-05, 1000000000000000.0, 1e+17]"},
    {"[9007199254740993.0, 100000000000000000000.0, 1234567890123456.0, 0.1e1, "
     "12.5e-1, 0e999999999, -0e5, 1e-400, -1e-400]",
     "[9007199254740992.0, 1e+20, 1234567890123456.0, 1.0, 1.25, 0.0, -0.0, "
     "0.0, -0.0]"},
    {"[9223372036854775807, -9223372036854775808, 1234567890123456789, 0, -1]",
     "[9223372036854775807, -9223372036854775808, 1234567890123456789, 0, -1]"},
    {"[9999999999999999e291, 1.5e300, 2.5e-300, 4.9e-324, "
     "2.4703282292062328e-324, 0.5e1]",
     "[9.999999999999999e+306, 1.5e+300, 2.5e-300, 5e-324, 5e-324, 5.0]"},
    {"{\"a\": "
     "\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\\u000A\\u0041\\u007F\\u001f\", "
     "\"b\": [true, false, null]}",
     "{\"a\": \"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\/\\nA\\u007f\\u001f\", "
     "\"b\": [true, false, null]}"},
    {"{\"caf\303\251\": \"\346\227\245\346\234\254 \360\237\230\200 "
     "\364\217\277\277 \302\200\"}",
     "{\"caf\\u00e9\": \"\\u65e5\\u672c \\ud83d\\ude00 \\udbff\\udfff "
     "\\u0080\"}"},
    {"  {\"a\" : [ 1 , 2 ] ,\"b\":{ } , \"c\" :[ ]}\015\012\011 ",
     "{\"a\": [1, 2], \"b\": {}, \"c\": []}"},
};

static const char *const fast_gives_up[] = {
    "{\"a\": 1, \"a\": 2}",
    "{\"k\\u0061\": 1}",
    "[\"\\u0000\"]",
    "[\"\\ud800\"]",
    "[\"\\udc00\"]",
    "[\"\\ud800\\u0041\"]",
    "[1e400]",
    "[-1e400]",
    "[9223372036854775808]",
    "[-9223372036854775809]",
    "[12345678901234567890]",
    "[01]",
    "[1.]",
    "[.5]",
    "[+1]",
    "[-]",
    "[1e]",
    "[1e+]",
    "[\"\\x\"]",
    "[\"a\011b\"]",
    "[tru]",
    "[nul]",
    "[truex]",
    "[1 2]",
    "[1,]",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{a:1}",
    "[1] x",
    "\"top\"",
    "1",
    "",
    "[",
    "[\"\377\"]",
    "[\"\300\200\"]",
    "[\"\355\240\200\"]",
    "[\"\364\220\200\200\"]",
    "[\"\340\200\200\"]",
    "[\"\303\"]",
};

/* pyjson_fast_dump of in: want (or it gives up, if it may), and the
 * jansson path agrees. */
static void
expect_fast_or(const char *in, size_t n, const char *want, int may_give_up)
{
	static char got[8192];
	struct buf b, t;
	json_error_t jerr;
	json_t *v;
	int rc, same;

	buf_init(&b, 1 << 20);
	buf_init(&t, 1 << 20);
	rc = pyjson_fast_dump(in, n, &b);
	if (rc == -1 && may_give_up) {
		buf_free(&b);
		buf_free(&t);
		return;
	}
	snprintf(got, sizeof(got), "%s", rc == 0 ? buf_cstr(&b) : "(gave up)");
	same = rc == 0 && b.len == strlen(want) &&
	       memcmp(b.data, want, b.len) == 0;
	v = pyjson_load(in, n, &jerr);
	if (same && (v == NULL || pyjson_dump(v, &t) == -1 || t.len != b.len ||
		     memcmp(t.data, b.data, b.len) != 0))
		same = 0;
	json_decref(v);
	buf_free(&b);
	buf_free(&t);
	if (!same)
		fail_msg("pyjson_fast_dump(%s)\n  got  %s\n  want %s", in, got,
			 want);
}

static void
expect_fast(const char *in, size_t n, const char *want)
{
	expect_fast_or(in, n, want, 0);
}

static void
test_fast_documents(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fast_docs) / sizeof(fast_docs[0]); i++)
		expect_fast(fast_docs[i].in, strlen(fast_docs[i].in),
			    fast_docs[i].want);
	/* the documents above: the same, or it gives up (escaped or
	 * duplicate keys, a top level that is not an object or an array) */
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_fast_or(docs[i].in, strlen(docs[i].in), docs[i].want, 1);
}

static void
test_fast_gives_up(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < sizeof(fast_gives_up) / sizeof(fast_gives_up[0]); i++) {
		buf_reset(&b);
		if (pyjson_fast_dump(fast_gives_up[i], strlen(fast_gives_up[i]),
				     &b) != -1)
			fail_msg("pyjson_fast_dump accepted %s",
				 fast_gives_up[i]);
	}
	/* a NUL byte outside strings, and the buffer limit */
	buf_reset(&b);
	assert_int_equal(pyjson_fast_dump("[1]\0", 4, &b), -1);
	buf_free(&b);
	buf_init(&b, 8);
	assert_int_equal(pyjson_fast_dump("[123456789]", 11, &b), -1);
	buf_free(&b);
}

/* Nesting: up to PYJSON_FAST_DEPTH, beyond that the jansson path. */
static void
test_fast_depth(void **state)
{
	char in[2 * 1100 + 1], want[2 * 1100 + 1];
	struct buf b;
	int d;

	(void)state;
	for (d = PYJSON_FAST_DEPTH; d <= PYJSON_FAST_DEPTH + 1; d++) {
		memset(in, '[', (size_t)d);
		memset(in + d, ']', (size_t)d);
		in[2 * d] = '\0';
		if (d == PYJSON_FAST_DEPTH) {
			memcpy(want, in, (size_t)(2 * d + 1));
			expect_fast(in, (size_t)(2 * d), want);
			continue;
		}
		buf_init(&b, 1 << 20);
		assert_int_equal(pyjson_fast_dump(in, (size_t)(2 * d), &b), -1);
		buf_free(&b);
	}
}

/* Every float of reals[], written by %.17g and by repr: the same repr. */
static void
test_fast_reals(void **state)
{
	char in[64], want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		snprintf(in, sizeof(in), "[%.17g]", reals[i].x);
		if (strpbrk(in, ".en") == NULL) /* an integer to jansson */
			snprintf(in, sizeof(in), "[%.17g.0]", reals[i].x);
		snprintf(want, sizeof(want), "[%s]", reals[i].want);
		expect_fast(in, strlen(in), want);
		snprintf(in, sizeof(in), "[%s]", reals[i].want);
		expect_fast(in, strlen(in), want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_documents),
	    cmocka_unit_test(test_separators_and_order),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_reals),
	    cmocka_unit_test(test_reals_powers_of_two),
	    cmocka_unit_test(test_non_finite),
	    cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_every_ascii_char),
	    cmocka_unit_test(test_buffer_limit),
	    cmocka_unit_test(test_lone_surrogates),
	    cmocka_unit_test(test_many_lone_surrogates),
	    cmocka_unit_test(test_fast_documents),
	    cmocka_unit_test(test_fast_gives_up),
	    cmocka_unit_test(test_fast_depth),
	    cmocka_unit_test(test_fast_reals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

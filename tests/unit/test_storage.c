/*
 * Blob Storage building blocks (storage.h): Shared Key signing against the
 * reference's worked example, the streamed List Blobs / List Containers
 * XML with hostile documents, and the line splitter and payloads, whose
 * expected bytes come from Wazuh's Python (python3, hard-coded here).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "date.h"
#include "storage.h"

/* The public Azurite key: the only key allowed in the repository. */
#define AZURITE_KEY                                                            \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"      \
	"K1SZFPTOtr/KBHBeksoGMGw=="
#define XDATE "Mon, 03 Jun 2024 12:00:00 GMT"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Shared Key ---- */

/* Sign r with the Azurite key; check StringToSign and Authorization. */
static void
expect_sign(const struct storage_signreq *r, const char *sts, const char *auth)
{
	unsigned char *key;
	size_t keylen;
	struct buf b;

	buf_init(&b, 1 << 16);
	assert_int_equal(storage_string_to_sign(r, &b), 0);
	assert_string_equal(buf_cstr(&b), sts);
	buf_reset(&b);
	assert_int_equal(storage_decode_key(AZURITE_KEY, &key, &keylen), 0);
	assert_int_equal(keylen, 64);
	if (auth != NULL) {
		assert_int_equal(storage_authorization(r, key, keylen, &b), 0);
		assert_string_equal(buf_cstr(&b), auth);
	}
	explicit_bzero(key, keylen);
	free(key);
	buf_free(&b);
}

static void
test_sign_example(void **state)
{
	/* unsorted, mixed case; Date and Content-Length 0 drop out */
	const struct storage_kv q[] = {
	    {"restype", "container"},
	    {"comp", "list"},
	    {"prefix", "tenantId=00000000-0000-0000-0000-000000000000/y=2024/"},
	    {"maxresults", "2"},
	    {"include", "metadata"},
	};
	const struct storage_kv h[] = {
	    {"x-ms-version", "2021-08-06"},
	    {"X-MS-Date", XDATE},
	    {"Date", "Tue, 04 Jun 2024 12:00:00 GMT"},
	    {"Content-Length", "0"},
	};
	const struct storage_signreq r = {
	    "GET",
	    "devstoreaccount1",
	    "/devstoreaccount1/insights-logs-signinlogs",
	    q,
	    NELEM(q),
	    h,
	    NELEM(h)};

	(void)state;
	expect_sign(&r,
		    "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" XDATE
		    "\nx-ms-version:2021-08-06\n/devstoreaccount1/"
		    "devstoreaccount1/insights-logs-signinlogs\ncomp:list\n"
		    "include:metadata\nmaxresults:2\nprefix:tenantId=00000000-"
		    "0000-0000-0000-000000000000/y=2024/\nrestype:container",
		    "SharedKey devstoreaccount1:"
		    "x7ZxLUrnQD2DukYwtw9e2Jd0ztTibD1YTE4wu/rIqpo=");
}

static void
test_sign_get_blob(void **state)
{
	const struct storage_kv h[] = {
	    {"x-ms-range", "bytes=1024-"},
	    {"If-Match", "\"0x8D79ACC750BF3D4\""},
	    {"x-ms-version", "2021-08-06"},
	    {"x-ms-date", XDATE},
	    {"Content-Length", "0"},
	};
	/* a decoded path: signed percent-encoded, as it is sent */
	const struct storage_signreq r = {
	    "GET",
	    "devstoreaccount1",
	    "/devstoreaccount1/insights-logs-signinlogs/y=2024/a b/PT1H.json",
	    NULL,
	    0,
	    h,
	    NELEM(h)};

	(void)state;
	expect_sign(&r,
		    "GET\n\n\n\n\n\n\n\n\"0x8D79ACC750BF3D4\"\n\n\n\n"
		    "x-ms-date:" XDATE "\nx-ms-range:bytes=1024-\n"
		    "x-ms-version:2021-08-06\n/devstoreaccount1/"
		    "devstoreaccount1/insights-logs-signinlogs/y%3D2024/a%20b/"
		    "PT1H.json",
		    "SharedKey devstoreaccount1:"
		    "v87VADhYNYwLiECCQw0A4gC+I1EQEXrBhff9v5+jRpw=");
}

static void
test_sign_standard_headers(void **state)
{
	/* every standard header; Date kept without x-ms-date; duplicate
	 * names joined; values trimmed; query values of a name sorted */
	const struct storage_kv h[] = {
	    {"range", "bytes=0-9"},	    {"if-unmodified-since", "U"},
	    {"If-None-Match", "*"},	    {"IF-MATCH", "\"e\""},
	    {"If-Modified-Since", "M"},	    {"date", XDATE},
	    {"Content-Type", "text/plain"}, {"Content-MD5", "md5"},
	    {"Content-Length", "10"},	    {"Content-Language", "en"},
	    {"Content-Encoding", "gzip"},   {"x-ms-meta-b", "  two "},
	    {"x-ms-meta-a", "1"},	    {"X-Ms-Meta-B", "three"},
	    {"User-Agent", "azure-logs"},
	};
	const struct storage_kv q[] = {
	    {"Comp", "list"},
	    {"x", "b"},
	    {"x", "a"},
	    {"empty", ""},
	};
	const struct storage_signreq r = {"PUT",    "acct", "/",     q,
					  NELEM(q), h,	    NELEM(h)};

	(void)state;
	expect_sign(&r,
		    "PUT\ngzip\nen\n10\nmd5\ntext/plain\n" XDATE
		    "\nM\n\"e\"\n*\nU\nbytes=0-9\nx-ms-meta-a:1\n"
		    "x-ms-meta-b:two,three\n/acct/\ncomp:list\nempty:\nx:a,b",
		    NULL);
}

static void
test_decode_key(void **state)
{
	static const char *const bad[] = {
	    "", "abc", "ab!d", "====", "a===", "ab=c", "YWJj\n", " YWJj",
	};
	unsigned char *key;
	size_t keylen, i;

	(void)state;
	assert_int_equal(storage_decode_key("YWJj", &key, &keylen), 0);
	assert_int_equal(keylen, 3);
	assert_memory_equal(key, "abc", 3);
	free(key);
	assert_int_equal(storage_decode_key("YWI=", &key, &keylen), 0);
	assert_int_equal(keylen, 2);
	assert_memory_equal(key, "ab", 2);
	free(key);
	assert_int_equal(storage_decode_key("YQ==", &key, &keylen), 0);
	assert_int_equal(keylen, 1);
	assert_memory_equal(key, "a", 1);
	free(key);
	for (i = 0; i < NELEM(bad); i++) {
		assert_int_equal(storage_decode_key(bad[i], &key, &keylen), -1);
		assert_null(key);
	}
}

static void
test_url_encode(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(
	    storage_url_encode("c/y=2024/a b+%~-._\xc3\xa9", 1, &b), 0);
	assert_string_equal(buf_cstr(&b), "c/y%3D2024/a%20b%2B%25~-._%C3%A9");
	buf_reset(&b);
	assert_int_equal(storage_url_encode("a/b&c=d?", 0, &b), 0);
	assert_string_equal(buf_cstr(&b), "a%2Fb%26c%3Dd%3F");
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(storage_url_encode("a b", 0, &b), -1);
	buf_free(&b);
}

/* ---- List XML ---- */

struct seen {
	struct buf out; /* one line per container or blob */
	int fail_at;	/* callback number that returns -1, 0: never */
	int calls;
};

static int
on_container(void *arg, const char *name)
{
	struct seen *s = arg;

	buf_printf(&s->out, "C %s\n", name);
	return ++s->calls == s->fail_at ? -1 : 0;
}

static int
on_blob(void *arg, const struct storage_blob *b)
{
	struct seen *s = arg;

	buf_printf(
	    &s->out, "B %s|%s|%s|%lld|%lld|%lld|%s\n", b->name, b->etag,
	    b->blob_type, (long long)b->size,
	    (long long)(b->created < 0 ? -1 : b->created / DATE_TICKS_PER_SEC),
	    (long long)(b->modified < 0 ? -1
					: b->modified / DATE_TICKS_PER_SEC),
	    b->created_str);
	return ++s->calls == s->fail_at ? -1 : 0;
}

/*
 * Parse xml in chunks of chunk bytes (0: all at once). Returns the
 * feed's result; s->out holds what the callbacks saw, *l the parser.
 */
static int
parse(const char *xml, size_t chunk, struct seen *s, struct storage_list **lp)
{
	const struct storage_list_cb cb = {on_container, on_blob, s};
	struct storage_list *l = storage_list_new(&cb);
	size_t len = strlen(xml), off = 0, n;
	int rc = 0;

	buf_init(&s->out, 1 << 20);
	if (chunk == 0)
		chunk = len;
	while (rc == 0 && off < len) {
		n = len - off < chunk ? len - off : chunk;
		rc = storage_list_feed(l, xml + off, n, 0);
		off += n;
	}
	if (rc == 0)
		rc = storage_list_feed(l, NULL, 0, 1);
	*lp = l;
	return rc;
}

/* Parse whole and in 1-byte chunks; both must give want and marker. */
static void
expect_list(const char *xml, const char *want, const char *marker)
{
	static const size_t chunks[] = {0, 1, 7};
	struct storage_list *l;
	struct seen s;
	size_t i;

	for (i = 0; i < NELEM(chunks); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(parse(xml, chunks[i], &s, &l), 0);
		assert_string_equal(buf_cstr(&s.out), want);
		assert_string_equal(storage_list_next_marker(l), marker);
		assert_string_equal(storage_list_error(l), "");
		storage_list_free(l);
		buf_free(&s.out);
	}
}

/* The parse must fail with an error starting with why. */
static void
expect_list_fail(const char *xml, size_t chunk, const char *why)
{
	struct storage_list *l;
	struct seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(parse(xml, chunk, &s, &l), -1);
	if (strncmp(storage_list_error(l), why, strlen(why)) != 0)
		fail_msg("error '%s', want '%s'", storage_list_error(l), why);
	/* once failed, it stays failed */
	assert_int_equal(storage_list_feed(l, "<a/>", 4, 1), -1);
	storage_list_free(l);
	buf_free(&s.out);
}

#define PROPS(ct, lm, etag, len, type)                                         \
	"<Properties><Creation-Time>" ct "</Creation-Time><Last-Modified>" lm  \
	"</Last-Modified><Etag>" etag "</Etag><Content-Length>" len            \
	"</Content-Length><Content-Type>application/json</Content-Type>"       \
	"<BlobType>" type "</BlobType><LeaseStatus>unlocked</LeaseStatus>"     \
	"</Properties>"
#define T1 "Thu, 16 Jan 2020 21:38:42 GMT"
#define T2 "Mon, 03 Jun 2024 11:05:01 GMT"

static void
test_list_sample(void **state)
{
	(void)state;
	/* the reference's sample answer */
	expect_list(
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "
	    "ServiceEndpoint=\"https://acct.blob.core.windows.net/\" "
	    "ContainerName=\"c\"><Prefix>p/</Prefix><Blobs><Blob><Name>"
	    "p/PT1H.json</Name>" PROPS(
		T1, T1, "0x8D79ACC750BF3D4", "56318",
		"AppendBlob") "</Blob></Blobs><NextMarker "
			      "/></EnumerationResults>",
	    "B p/PT1H.json|0x8D79ACC750BF3D4|AppendBlob|56318|"
	    "1579210722|1579210722|" T1 "\n",
	    "");
}

static void
test_list_containers(void **state)
{
	(void)state;
	expect_list("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		    "<EnumerationResults ServiceEndpoint=\"https://a/\">\n"
		    "  <MaxResults>2</MaxResults>\n  <Containers>\n"
		    "    <Container><Name>insights-logs-signinlogs</Name>"
		    "<Properties><Last-Modified>" T1 "</Last-Modified>"
		    "<Etag>\"0x1\"</Etag></Properties><Metadata><Name>no</Name>"
		    "</Metadata></Container>\n"
		    "    <Container><Name>a&amp;b&#x41;</Name></Container>\n"
		    "  </Containers>\n  <NextMarker>"
		    "/acct/insights-logs-z</NextMarker>\n</EnumerationResults>",
		    "C insights-logs-signinlogs\nC a&bA\n",
		    "/acct/insights-logs-z");
}

static void
test_list_pagination(void **state)
{
	(void)state;
	expect_list("<EnumerationResults><Blobs><Blob><Name>a</Name>" PROPS(
			T1, T2, "0x1", "0",
			"BlockBlob") "</Blob><Blob><Name>b</"
				     "Name>" PROPS(T2, T2, "0x2",
						   "922337203685477580"
						   "7",
						   "PageBlob") "</"
							       "Blob></"
							       "Blobs><"
							       "NextMar"
							       "ker>2!"
							       "92!"
							       "MDAwMDI"
							       "0IWI-</"
							       "NextMar"
							       "ker>"
							       "</"
							       "Enumera"
							       "tionRes"
							       "ults>",
		    "B a|0x1|BlockBlob|0|1579210722|1717412701|" T1 "\n"
		    "B b|0x2|PageBlob|9223372036854775807|1717412701|"
		    "1717412701|" T2 "\n",
		    "2!92!MDAwMDI0IWI-");
	expect_list("<EnumerationResults><Blobs/><NextMarker></NextMarker>"
		    "</EnumerationResults>",
		    "", "");
	expect_list("<EnumerationResults><Blobs><Blob><Name>x</Name></Blob>"
		    "</Blobs></EnumerationResults>",
		    "B x|||-1|-1|-1|\n", "");
}

static void
test_list_azurite(void **state)
{
	(void)state;
	/* Azurite: standalone, empty elements, Metadata holding <Name> and
	 * <Properties>, the last name as NextMarker */
	expect_list(
	    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
	    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/"
	    "devstoreaccount1\" ContainerName=\"insights-logs-signinlogs\">"
	    "<Prefix>tenantId=0/y=2024/</Prefix><Marker/><MaxResults>2"
	    "</MaxResults><Blobs><Blob><Name>tenantId=0/y=2024/m=06/PT1H.json"
	    "</Name><Deleted>false</Deleted><Properties><Creation-Time>" T2
	    "</Creation-Time><Last-Modified>" T2 "</Last-Modified><Etag>"
	    "0x1F2D5C3E4A5B6C7</Etag><Content-Length>120</Content-Length>"
	    "<Content-Type>application/octet-stream</Content-Type>"
	    "<Content-Encoding/><Content-Language/><Content-MD5/>"
	    "<Cache-Control/><Content-Disposition/><BlobType>AppendBlob"
	    "</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>"
	    "available</LeaseState><ServerEncrypted>true</ServerEncrypted>"
	    "</Properties><Metadata><Name>meta</Name><Properties>"
	    "<Etag>bad</Etag></Properties></Metadata></Blob></Blobs>"
	    "<NextMarker>tenantId=0/y=2024/m=06/PT1H.json</NextMarker>"
	    "</EnumerationResults>",
	    "B tenantId=0/y=2024/m=06/PT1H.json|0x1F2D5C3E4A5B6C7|AppendBlob|"
	    "120|1717412701|1717412701|" T2 "\n",
	    "tenantId=0/y=2024/m=06/PT1H.json");
}

static void
test_list_error(void **state)
{
	(void)state;
	expect_list_fail(
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
	    "AuthenticationFailed</Code><Message>Server failed to authenticate "
	    "the request.\nRequestId:1</Message><AuthenticationErrorDetail>"
	    "The MAC signature found in the HTTP request is not the same."
	    "</AuthenticationErrorDetail></Error>",
	    1,
	    "AuthenticationFailed: Server failed to authenticate the request."
	    "\nRequestId:1");
	expect_list_fail("<Error><Code>AuthorizationFailure</Code></Error>", 0,
			 "AuthorizationFailure: ");
}

static void
test_list_hostile(void **state)
{
	struct buf big;
	size_t i;

	(void)state;
	expect_list_fail("<!DOCTYPE EnumerationResults><EnumerationResults/>",
			 1, "XML DOCTYPE refused");
	expect_list_fail(
	    "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	    "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	    "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>"
	    "<EnumerationResults><NextMarker>&lol2;</NextMarker>"
	    "</EnumerationResults>",
	    0, "XML DOCTYPE refused");
	expect_list_fail(
	    "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "
	    "\"file:///etc/passwd\">]><EnumerationResults><Containers>"
	    "<Container><Name>&xxe;</Name></Container></Containers>"
	    "</EnumerationResults>",
	    1, "XML DOCTYPE refused");
	/* an undeclared entity */
	expect_list_fail("<EnumerationResults><NextMarker>&xxe;</NextMarker>"
			 "</EnumerationResults>",
			 0, "XML error");
	expect_list_fail("<EnumerationResults><Blobs><Blob><Name>a</Name>", 1,
			 "XML error");
	expect_list_fail("", 0, "XML error");
	expect_list_fail("{\"value\": []}", 0, "XML error");
	expect_list_fail("<html><body>proxy</body></html>", 0,
			 "unexpected XML document");
	expect_list_fail(
	    "<EnumerationResults><Blobs><Blob><Name>a</Name>" PROPS(
		T1, "yesterday", "e", "1",
		"BlockBlob") "</Blob></Blobs></EnumerationResults>",
	    0, "bad Last-Modified");
	expect_list_fail(
	    "<EnumerationResults><Blobs><Blob><Name>a</Name>" PROPS(
		T1, T1, "e", "-1",
		"BlockBlob") "</Blob></Blobs></EnumerationResults>",
	    0, "bad Content-Length");
	expect_list_fail(
	    "<EnumerationResults><Blobs><Blob><Name>a</Name>" PROPS(
		T1, T1, "e", "99999999999999999999",
		"BlockBlob") "</Blob></Blobs></EnumerationResults>",
	    0, "bad Content-Length");
	/* a name of 4097 bytes, and nesting 40 deep */
	buf_init(&big, 1 << 20);
	buf_puts(&big, "<EnumerationResults><Blobs><Blob><Name>");
	for (i = 0; i < STORAGE_XML_NAME_MAX + 1; i++)
		buf_append(&big, "x", 1);
	buf_puts(&big, "</Name></Blob></Blobs></EnumerationResults>");
	expect_list_fail(buf_cstr(&big), 0, "XML field too long");
	expect_list_fail(buf_cstr(&big), 1000, "XML field too long");
	buf_reset(&big);
	buf_puts(&big, "<EnumerationResults>");
	for (i = 0; i < 40; i++)
		buf_puts(&big, "<a>");
	expect_list_fail(buf_cstr(&big), 0, "XML nested too deeply");
	buf_free(&big);
}

static void
test_list_callback_fails(void **state)
{
	struct storage_list *l;
	struct seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.fail_at = 1;
	assert_int_equal(parse("<EnumerationResults><Containers><Container>"
			       "<Name>a</Name></Container><Container><Name>b"
			       "</Name></Container></Containers>"
			       "</EnumerationResults>",
			       0, &s, &l),
			 -1);
	assert_string_equal(buf_cstr(&s.out), "C a\n");
	assert_string_equal(storage_list_error(l), "container callback failed");
	storage_list_free(l);
	buf_free(&s.out);
}

/* ---- Lines ---- */

struct lines {
	struct buf out; /* each line followed by "\n" (none holds one) */
	int calls, fail_at;
};

static int
on_line(void *arg, const char *line, size_t len)
{
	struct lines *c = arg;

	assert_true(len > 0);
	buf_append(&c->out, line, len);
	buf_append(&c->out, "\n", 1);
	return ++c->calls == c->fail_at ? -1 : 0;
}

/* python3: "alpha\nbeta\r\ngamma\rdelta\x0bepsilon..." .encode() */
static const char TEXT[] =
    "alpha\nbeta\r\ngamma\rdelta\x0b"
    "epsilon\x0c"
    "zeta\x1c"
    "eta\x1d"
    "theta\x1e"
    "iota\xc2\x85kappa\xe2\x80\xa8lambda\xe2\x80\xa9mu\n\n\r\n\r\rnu "
    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe2\x80\xa7x\xc3\x82\nlast";
/* [s for s in text.splitlines() if s], joined with "\n" */
static const char TEXT_LINES[] =
    "alpha\nbeta\ngamma\ndelta\nepsilon\nzeta\neta\ntheta\niota\nkappa\n"
    "lambda\nmu\nnu \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe2\x80\xa7x"
    "\xc3\x82\nlast\n";

/* Split TEXT fed in pieces of chunk bytes, then finish. */
static void
split_text(size_t chunk, size_t first)
{
	struct storage_lines sl;
	struct lines c;
	size_t len = sizeof(TEXT) - 1, off = 0, n;

	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 1 << 16);
	storage_lines_init(&sl, 1024);
	while (off < len) {
		n = off == 0 && first ? first : chunk;
		n = len - off < n ? len - off : n;
		assert_int_equal(
		    storage_lines_feed(&sl, TEXT + off, n, on_line, &c), 0);
		off += n;
		/* "last" has no terminator yet: held back */
		assert_true(sl.done <= (int64_t)len - 4);
	}
	assert_int_equal(sl.done, len - 4);
	assert_int_equal(sl.fed, len);
	assert_int_equal(storage_lines_finish(&sl, on_line, &c), 0);
	assert_int_equal(sl.done, len);
	assert_string_equal(buf_cstr(&c.out), TEXT_LINES);
	storage_lines_free(&sl);
	buf_free(&c.out);
}

static void
test_lines_terminators(void **state)
{
	size_t i;

	(void)state;
	split_text(sizeof(TEXT), 0);
	split_text(1, 0);
	split_text(2, 0);
	split_text(3, 0);
	/* every two-chunk split */
	for (i = 1; i < sizeof(TEXT) - 1; i++)
		split_text(sizeof(TEXT), i);
}

/*
 * Lines of every length from 1 to 70 (the splitter looks at 16 bytes at a
 * time), made of text that looks like a separator to a quick scan (tab,
 * C2 A9, E2 80 A7, E2 82 AC, C2 at the end of a chunk), ended by each
 * separator in turn: the same lines, whole or in any chunk size.
 */
static void
test_lines_long(void **state)
{
	static const char *const seps[] = {
	    "\n",   "\r\n", "\r",	"\x0b",		"\x0c",	       "\x1c",
	    "\x1d", "\x1e", "\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9"};
	static const char fill[] = "ab\t\xc2\xa9"
				   "cd\xe2\x80\xa7"
				   "ef\xe2\x82\xac"
				   "ghijklmnopqrstuvwxyz0123456789";
	static const size_t chunks[] = {1, 2, 3, 7, 15, 16, 17, 31, 4096};
	struct buf text, want, line;
	struct storage_lines sl;
	struct lines c;
	size_t len, i, k, off, n;

	(void)state;
	buf_init(&text, 1 << 20);
	buf_init(&want, 1 << 20);
	buf_init(&line, 1 << 10);
	for (len = 1; len <= 70; len++) {
		buf_reset(&line);
		while (line.len < len)
			buf_append(&line, fill + line.len % (sizeof(fill) - 1),
				   1);
		/* a line may end inside a character (C2, E2 80): those
		 * bytes stay text, whatever separator follows */
		buf_append(&text, line.data, line.len);
		buf_append(&text, seps[len % 11], strlen(seps[len % 11]));
		buf_append(&want, line.data, line.len);
		buf_append(&want, "\n", 1);
	}
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		memset(&c, 0, sizeof(c));
		buf_init(&c.out, 1 << 20);
		storage_lines_init(&sl, 1024);
		for (off = 0; off < text.len; off += n) {
			n = text.len - off < chunks[k] ? text.len - off
						       : chunks[k];
			assert_int_equal(storage_lines_feed(&sl,
							    text.data + off, n,
							    on_line, &c),
					 0);
		}
		assert_int_equal(sl.done, text.len);
		assert_string_equal(buf_cstr(&c.out), buf_cstr(&want));
		storage_lines_free(&sl);
		buf_free(&c.out);
	}
	/* a separator at each position of a 16-byte block */
	for (i = 0; i < 40; i++) {
		buf_reset(&text);
		buf_reset(&want);
		for (k = 0; k < i; k++)
			buf_append(&text, "x", 1);
		buf_append(&want, text.data, text.len);
		buf_append(&want, "\n", 1);
		buf_append(&text,
			   "\xe2\x80\xa9"
			   "yz",
			   5);
		buf_append(&want, "yz\n", 3);
		memset(&c, 0, sizeof(c));
		buf_init(&c.out, 1 << 10);
		storage_lines_init(&sl, 1024);
		assert_int_equal(
		    storage_lines_feed(&sl, text.data, text.len, on_line, &c),
		    0);
		assert_int_equal(sl.done, i + 3);
		assert_int_equal(storage_lines_finish(&sl, on_line, &c), 0);
		assert_string_equal(buf_cstr(&c.out),
				    i ? buf_cstr(&want) : "yz\n");
		storage_lines_free(&sl);
		buf_free(&c.out);
	}
	buf_free(&text);
	buf_free(&want);
	buf_free(&line);
}

/* Feed s; check the lines seen so far and done. */
static void
feed_expect(struct storage_lines *sl, struct lines *c, const char *s,
	    const char *want, int64_t done)
{
	assert_int_equal(storage_lines_feed(sl, s, strlen(s), on_line, c), 0);
	assert_string_equal(buf_cstr(&c->out), want);
	assert_int_equal(sl->done, done);
}

static void
test_lines_done(void **state)
{
	struct storage_lines sl;
	struct lines c;

	(void)state;
	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 1 << 16);
	storage_lines_init(&sl, 64);
	feed_expect(&sl, &c, "one\ntw", "one\n", 4);
	feed_expect(&sl, &c, "o", "one\n", 4);
	feed_expect(&sl, &c, "\n", "one\ntwo\n", 8);
	/* CRLF split across feeds: one terminator */
	feed_expect(&sl, &c, "three\r", "one\ntwo\nthree\n", 14);
	assert_int_equal(sl.pending_cr, 1);
	feed_expect(&sl, &c, "\n", "one\ntwo\nthree\n", 15);
	assert_int_equal(sl.pending_cr, 0);
	feed_expect(&sl, &c, "\r", "one\ntwo\nthree\n", 16);
	feed_expect(&sl, &c, "\nfour\r", "one\ntwo\nthree\nfour\n", 22);
	feed_expect(&sl, &c, "\r\n", "one\ntwo\nthree\nfour\n", 24);
	/* U+2028 split in three feeds; done only past its last byte */
	feed_expect(&sl, &c, "five\xe2", "one\ntwo\nthree\nfour\n", 24);
	feed_expect(&sl, &c, "\x80", "one\ntwo\nthree\nfour\n", 24);
	feed_expect(&sl, &c, "\xa8", "one\ntwo\nthree\nfour\nfive\n", 31);
	/* E2 80 then no separator: text */
	feed_expect(&sl, &c, "s\xe2\x80", "one\ntwo\nthree\nfour\nfive\n", 31);
	feed_expect(&sl, &c, "\xa7\xc2", "one\ntwo\nthree\nfour\nfive\n", 31);
	feed_expect(&sl, &c, "\x85",
		    "one\ntwo\nthree\nfour\nfive\ns\xe2\x80\xa7\n", 37);
	/* C2 ending the blob is text too */
	feed_expect(&sl, &c, "\xc2",
		    "one\ntwo\nthree\nfour\nfive\ns\xe2\x80\xa7\n", 37);
	assert_int_equal(storage_lines_finish(&sl, on_line, &c), 0);
	assert_string_equal(buf_cstr(&c.out), "one\ntwo\nthree\nfour\nfive\n"
					      "s\xe2\x80\xa7\n\xc2\n");
	assert_int_equal(sl.done, 38);
	assert_int_equal(sl.fed, 38);
	storage_lines_free(&sl);
	buf_free(&c.out);
}

static void
test_lines_empty(void **state)
{
	struct storage_lines sl;
	struct lines c;

	(void)state;
	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 1 << 16);
	storage_lines_init(&sl, 64);
	feed_expect(&sl, &c, "\n\r\n\r\x0b\x0c\xc2\x85", "", 8);
	assert_int_equal(storage_lines_finish(&sl, on_line, &c), 0);
	assert_string_equal(buf_cstr(&c.out), "");
	assert_int_equal(storage_lines_finish(&sl, on_line, &c), 0);
	assert_int_equal(c.calls, 0);
	storage_lines_free(&sl);
	buf_free(&c.out);
}

static void
test_lines_limits(void **state)
{
	struct storage_lines sl;
	struct lines c;

	(void)state;
	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 1 << 16);
	storage_lines_init(&sl, 4);
	feed_expect(&sl, &c, "abcd\n", "abcd\n", 5);
	/* a separator start held after a full line is no excess */
	feed_expect(&sl, &c, "abcd\xe2\x80", "abcd\n", 5);
	feed_expect(&sl, &c, "\xa9", "abcd\nabcd\n", 12);
	feed_expect(&sl, &c, "ab", "abcd\nabcd\n", 12);
	assert_int_equal(storage_lines_feed(&sl, "cde", 3, on_line, &c), -1);
	storage_lines_free(&sl);

	storage_lines_init(&sl, 4);
	assert_int_equal(storage_lines_feed(&sl, "abcde\n", 6, on_line, &c),
			 -1);
	storage_lines_free(&sl);

	/* held text that turns out not to be a separator */
	storage_lines_init(&sl, 4);
	assert_int_equal(storage_lines_feed(&sl, "abcd\xc2", 5, on_line, &c),
			 0);
	assert_int_equal(storage_lines_feed(&sl, "\xa9", 1, on_line, &c), -1);
	storage_lines_free(&sl);
	storage_lines_init(&sl, 4);
	assert_int_equal(storage_lines_feed(&sl, "abcd\xc2", 5, on_line, &c),
			 0);
	assert_int_equal(storage_lines_finish(&sl, on_line, &c), -1);
	storage_lines_free(&sl);

	/* the callback stops the split */
	buf_reset(&c.out);
	c.calls = 0;
	c.fail_at = 2;
	storage_lines_init(&sl, 64);
	assert_int_equal(storage_lines_feed(&sl, "a\nb\nc\n", 6, on_line, &c),
			 -1);
	assert_string_equal(buf_cstr(&c.out), "a\nb\n");
	storage_lines_free(&sl);
	buf_free(&c.out);
}

/* ---- Payloads ---- */

typedef int (*event_fn)(const char *, size_t, const char *, struct buf *);

static void
expect_event(event_fn fn, const char *line, const char *tag, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	assert_int_equal(fn(line, strlen(line), tag, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

#define L1 "{\"a\": 1, \"b\": \"x\"}"
#define L3                                                                     \
	"{\"time\": \"2024-06-03T11:00:00Z\",\"category\":\"SignInLogs\","     \
	"\"properties\":{\"k\":[1,2.5,null,true]}}"

static void
test_plain_event(void **state)
{
	struct buf b;

	(void)state;
	/* python3, Wazuh's code */
	expect_event(storage_plain_event, L1, NULL,
		     "azure_tag: azure-storage. " L1);
	expect_event(storage_plain_event, L1, "",
		     "azure_tag: azure-storage. " L1);
	expect_event(storage_plain_event, L1, "mytag",
		     "azure_tag: azure-storage. azure_storage_tag: mytag. " L1);
	expect_event(storage_plain_event, "hello world", NULL,
		     "azure_tag: azure-storage. hello world");
	expect_event(storage_plain_event, "hello world", "mytag",
		     "azure_tag: azure-storage. azure_storage_tag: mytag. "
		     "hello world");
	expect_event(storage_plain_event, L3, "mytag",
		     "azure_tag: azure-storage. azure_storage_tag: mytag. " L3);
	/* improvement: a hostile tag is escaped */
	expect_event(storage_plain_event, "x", "a\"b\\c\nd\x01",
		     "azure_tag: azure-storage. azure_storage_tag: "
		     "a\\\"b\\\\c\\nd\\u0001. x");
	buf_init(&b, 10);
	assert_int_equal(storage_plain_event("x", 1, NULL, &b), -1);
	buf_free(&b);
}

static void
test_inline_event(void **state)
{
	(void)state;
	/* python3, Wazuh's code */
	expect_event(
	    storage_inline_event, L1, NULL,
	    "{\"azure_tag\": \"azure-storage\", \"a\": 1, \"b\": \"x\"}");
	expect_event(
	    storage_inline_event, L1, "mytag",
	    "{\"azure_tag\": \"azure-storage\", \"azure_storage_tag\": "
	    "\"mytag\", \"a\": 1, \"b\": \"x\"}");
	expect_event(storage_inline_event, "hello world", NULL,
		     "{\"azure_tag\": \"azure-storage\", ello world");
	expect_event(
	    storage_inline_event, "hello world", "mytag",
	    "{\"azure_tag\": \"azure-storage\", \"azure_storage_tag\": "
	    "\"mytag\", ello world");
	expect_event(storage_inline_event, L3, NULL,
		     "{\"azure_tag\": \"azure-storage\", \"time\": "
		     "\"2024-06-03T11:00:00Z\",\"category\":\"SignInLogs\","
		     "\"properties\":{\"k\":[1,2.5,null,true]}}");
	expect_event(
	    storage_inline_event, L3, "mytag",
	    "{\"azure_tag\": \"azure-storage\", \"azure_storage_tag\": "
	    "\"mytag\", \"time\": \"2024-06-03T11:00:00Z\",\"category\":"
	    "\"SignInLogs\",\"properties\":{\"k\":[1,2.5,null,true]}}");
	/* line[1:] drops one character, not one byte */
	expect_event(storage_inline_event, "\xc3\xa9\"k\": 1}", NULL,
		     "{\"azure_tag\": \"azure-storage\", \"k\": 1}");
	/* improvements: "{}" stays valid; a hostile tag is escaped */
	expect_event(storage_inline_event, "{}", NULL,
		     "{\"azure_tag\": \"azure-storage\"}");
	expect_event(
	    storage_inline_event, "{ }", "t",
	    "{\"azure_tag\": \"azure-storage\", \"azure_storage_tag\": "
	    "\"t\" }");
	expect_event(
	    storage_inline_event, L1, "a\"b\\c\td",
	    "{\"azure_tag\": \"azure-storage\", \"azure_storage_tag\": "
	    "\"a\\\"b\\\\c\\td\", \"a\": 1, \"b\": \"x\"}");
	expect_event(
	    storage_inline_event, L1, "caf\xc3\xa9",
	    "{\"azure_tag\": \"azure-storage\", \"azure_storage_tag\": "
	    "\"caf\xc3\xa9\", \"a\": 1, \"b\": \"x\"}");
}

struct events {
	struct buf out;
	int calls, fail_at;
};

static int
on_event(void *arg, const struct buf *payload)
{
	struct events *e = arg;

	buf_append(&e->out, payload->data, payload->len);
	buf_append(&e->out, "\n", 1);
	return ++e->calls == e->fail_at ? -1 : 0;
}

/* python3: json.dumps() of each record, tags added (Wazuh's code). */
#define DOC                                                                    \
	"{\"records\": [{\"time\": \"2024-06-03T11:00:00.1234567Z\", \"n\": "  \
	"1.0, \"f\": 0.1, \"e\": 1e-07, \"u\": \"\\u00e9\\ud83d\\ude00 "       \
	"\xc3\xa8\", \"x\": [1, 2, {\"y\": null}], \"azure_tag\": \"old\"}, "  \
	"{\"a\": \"b\"}], \"other\": 1}"
#define REC1                                                                   \
	"{\"time\": \"2024-06-03T11:00:00.1234567Z\", \"n\": 1.0, \"f\": "     \
	"0.1, "                                                                \
	"\"e\": 1e-07, \"u\": \"\\u00e9\\ud83d\\ude00 \\u00e8\", \"x\": [1, "  \
	"2, {\"y\": null}], \"azure_tag\": \"azure-storage\""

static int
json_file(const char *doc, const char *tag, struct events *e, char *err,
	  size_t errlen)
{
	memset(e, 0, sizeof(*e));
	buf_init(&e->out, 1 << 16);
	err[0] = '\0';
	return storage_json_file_events(doc, strlen(doc), tag, on_event, e, err,
					errlen);
}

static void
test_json_file(void **state)
{
	struct events e;
	char err[256];

	(void)state;
	assert_int_equal(json_file(DOC, NULL, &e, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&e.out),
			    REC1 "}\n{\"a\": \"b\", \"azure_tag\": "
				 "\"azure-storage\"}\n");
	buf_free(&e.out);
	assert_int_equal(json_file(DOC, "nsg", &e, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&e.out),
			    REC1 ", \"azure_storage_tag\": \"nsg\"}\n{\"a\": "
				 "\"b\", \"azure_tag\": \"azure-storage\", "
				 "\"azure_storage_tag\": \"nsg\"}\n");
	buf_free(&e.out);
	/* a record that is not an object is skipped */
	assert_int_equal(
	    json_file("{\"records\": [1, {}]}", NULL, &e, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&e.out),
			    "{\"azure_tag\": \"azure-storage\"}\n");
	buf_free(&e.out);
	assert_int_equal(
	    json_file("{\"records\": []}", NULL, &e, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&e.out), "");
	buf_free(&e.out);
}

static void
test_json_file_errors(void **state)
{
	struct events e;
	char err[256];

	(void)state;
	assert_int_equal(
	    json_file("{\"records\": {\"a\": 1}}", NULL, &e, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "The blob's \"records\" is not a list.");
	assert_string_equal(buf_cstr(&e.out), "");
	buf_free(&e.out);
	assert_int_equal(
	    json_file("{\"value\": []}", NULL, &e, err, sizeof(err)), -1);
	assert_string_equal(err, "No records found in the blob's content: "
				 "''records''.");
	buf_free(&e.out);
	assert_int_equal(
	    json_file("[{\"records\": []}]", NULL, &e, err, sizeof(err)), -1);
	assert_string_equal(err, "No records found in the blob's content: "
				 "''records''.");
	buf_free(&e.out);
	/* a json_file blob still growing: the final "]}" missing */
	assert_int_equal(
	    json_file("{\"records\": [{\"a\": 1},", NULL, &e, err, sizeof(err)),
	    -1);
	assert_true(
	    strncmp(err, "Error reading the contents of the blob: '", 41) == 0);
	buf_free(&e.out);
	assert_int_equal(json_file("", NULL, &e, err, sizeof(err)), -1);
	assert_true(
	    strncmp(err, "Error reading the contents of the blob: '", 41) == 0);
	buf_free(&e.out);
	/* the emitter fails */
	memset(&e, 0, sizeof(e));
	buf_init(&e.out, 1 << 16);
	e.fail_at = 1;
	assert_int_equal(storage_json_file_events(DOC, strlen(DOC), NULL,
						  on_event, &e, err,
						  sizeof(err)),
			 -1);
	assert_int_equal(e.calls, 1);
	buf_free(&e.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_example),
	    cmocka_unit_test(test_sign_get_blob),
	    cmocka_unit_test(test_sign_standard_headers),
	    cmocka_unit_test(test_decode_key),
	    cmocka_unit_test(test_url_encode),
	    cmocka_unit_test(test_list_sample),
	    cmocka_unit_test(test_list_containers),
	    cmocka_unit_test(test_list_pagination),
	    cmocka_unit_test(test_list_azurite),
	    cmocka_unit_test(test_list_error),
	    cmocka_unit_test(test_list_hostile),
	    cmocka_unit_test(test_list_callback_fails),
	    cmocka_unit_test(test_lines_terminators),
	    cmocka_unit_test(test_lines_done),
	    cmocka_unit_test(test_lines_long),
	    cmocka_unit_test(test_lines_empty),
	    cmocka_unit_test(test_lines_limits),
	    cmocka_unit_test(test_plain_event),
	    cmocka_unit_test(test_inline_event),
	    cmocka_unit_test(test_json_file),
	    cmocka_unit_test(test_json_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

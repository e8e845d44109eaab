/*
 * Frames between the roles (common/frame.h): what one role packs, the
 * other reads back unchanged; anything malformed is a protocol error
 * reported before any allocation driven by the peer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "buf.h"
#include "frame.h"

/* ---- helpers ---------------------------------------------------------- */

static void
feed_all(struct frame_reader *fr, const struct buf *b)
{
	assert_int_equal(frame_reader_feed(fr, b->data, b->len), 0);
}

/* Prefix a hand-made msgpack body with its 4-byte big-endian length. */
static void
feed_raw(struct frame_reader *fr, const void *body, size_t n)
{
	uint8_t h[4];

	h[0] = (uint8_t)(n >> 24);
	h[1] = (uint8_t)(n >> 16);
	h[2] = (uint8_t)(n >> 8);
	h[3] = (uint8_t)n;
	assert_int_equal(frame_reader_feed(fr, h, 4), 0);
	if (n > 0)
		assert_int_equal(frame_reader_feed(fr, body, n), 0);
}

/* A hand-made frame body must be refused with a message containing why. */
static void
expect_bad_body(const msgpack_sbuffer *sb, const char *why)
{
	struct frame_reader fr;
	struct frame f;
	const char *errstr = NULL;

	frame_reader_init(&fr);
	feed_raw(&fr, sb->data, sb->size);
	assert_int_equal(frame_next(&fr, &f, &errstr), -1);
	assert_non_null(errstr);
	assert_non_null(strstr(errstr, why));
	frame_reader_free(&fr);
}

static void
expect_str(const struct frame *f, unsigned i, const char *want)
{
	char *s = frame_strdup(f, i);

	assert_string_equal(s, want);
	free(s);
}

/* Read back exactly one frame of the given type from b. */
static void
read_one(const struct buf *b, struct frame_reader *fr, struct frame *f,
	 int type)
{
	const char *errstr = NULL;

	frame_reader_init(fr);
	feed_all(fr, b);
	assert_int_equal(frame_next(fr, f, &errstr), 1);
	assert_int_equal(f->type, type);
}

static void
finish(struct frame_reader *fr, struct frame *f)
{
	const char *errstr = NULL;
	struct frame g;

	frame_free(f);
	assert_int_equal(frame_next(fr, &g, &errstr), 0);
	assert_false(frame_pending(fr));
	frame_reader_free(fr);
}

/* ---- round trips ------------------------------------------------------ */

static void
test_roundtrip_hello(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_HELLO, "graph",
				    "2012f3812bfc764b6a927f00ddcd7c16",
				    "auditLogs/signIns", (int64_t)3600, 1,
				    "fallback", (int64_t)900),
			 0);
	read_one(&b, &fr, &f, FRAME_HELLO);
	assert_int_equal(f.nfield, 7);
	expect_str(&f, 5, "fallback");
	assert_int_equal(frame_int(&f, 6), 900);
	expect_str(&f, 0, "graph");
	expect_str(&f, 1, "2012f3812bfc764b6a927f00ddcd7c16");
	expect_str(&f, 2, "auditLogs/signIns");
	assert_int_equal(frame_int(&f, 3), 3600);
	assert_true(frame_bool(&f, 4));
	finish(&fr, &f);
	buf_free(&b);
}

/* The storage frames: BLOBQ, BLOBSTATE, BLOB and PRUNE. */
static void
test_roundtrip_storage(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_BLOB, "c", "a/b.log",
				    "Thu, 16 Jan 2020 21:38:42 GMT",
				    (int64_t)56318),
			 0);
	read_one(&b, &fr, &f, FRAME_BLOB);
	expect_str(&f, 1, "a/b.log");
	assert_int_equal(frame_int(&f, 3), 56318);
	finish(&fr, &f);
	buf_reset(&b);
	assert_int_equal(frame_pack(&b, FRAME_BLOBSTATE, "", (int64_t)-1), 0);
	read_one(&b, &fr, &f, FRAME_BLOBSTATE);
	assert_int_equal(frame_int(&f, 1), -1);
	finish(&fr, &f);
	buf_free(&b);
}

/* RESULT: what became of a window (statekeeper -> fetcher). */
static void
test_roundtrip_result(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_RESULT, 1, (int64_t)350,
				    (int64_t)12, (int64_t)0),
			 0);
	read_one(&b, &fr, &f, FRAME_RESULT);
	assert_int_equal(f.nfield, 4);
	assert_true(frame_bool(&f, 0));
	assert_int_equal(frame_int(&f, 1), 350);
	assert_int_equal(frame_int(&f, 2), 12);
	assert_int_equal(frame_int(&f, 3), 0);
	finish(&fr, &f);
	buf_reset(&b);
	assert_int_equal(
	    frame_pack(&b, FRAME_RESULT, 0, (int64_t)0, (int64_t)0, (int64_t)4),
	    0);
	read_one(&b, &fr, &f, FRAME_RESULT);
	assert_false(frame_bool(&f, 0));
	assert_int_equal(frame_int(&f, 3), 4);
	assert_string_equal(frame_type_name(FRAME_RESULT), "RESULT");
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_hello_no_offset(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_HELLO, "log_analytics", "k", "",
				    (int64_t)-1, 0, "", (int64_t)0),
			 0);
	read_one(&b, &fr, &f, FRAME_HELLO);
	expect_str(&f, 2, "");
	assert_int_equal(frame_int(&f, 3), -1);
	assert_false(frame_bool(&f, 4));
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_checkpoint(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_CHECKPOINT,
				    "2022-03-04T15:12:56.980000Z",
				    "2020-03-13T19:15:41.6195833Z"),
			 0);
	read_one(&b, &fr, &f, FRAME_CHECKPOINT);
	assert_int_equal(f.nfield, 2);
	expect_str(&f, 0, "2022-03-04T15:12:56.980000Z");
	expect_str(&f, 1, "2020-03-13T19:15:41.6195833Z");
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_event_with_nul_bytes(void **state)
{
	static const char body[] = "{\"a\": \"x\"}\0tail\0\xff\x00";
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *p;
	size_t len;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_EVENT,
				    "2020-03-13T19:15:41.6195833Z", "id-1",
				    body, sizeof(body)),
			 0);
	read_one(&b, &fr, &f, FRAME_EVENT);
	assert_int_equal(f.nfield, 3);
	expect_str(&f, 0, "2020-03-13T19:15:41.6195833Z");
	expect_str(&f, 1, "id-1");
	p = frame_bin(&f, 2, &len);
	assert_int_equal(len, sizeof(body));
	assert_memory_equal(p, body, sizeof(body));
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_event_empty(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	size_t len = 99;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_EVENT, "", "", "", (size_t)0), 0);
	read_one(&b, &fr, &f, FRAME_EVENT);
	expect_str(&f, 0, "");
	expect_str(&f, 1, "");
	(void)frame_bin(&f, 2, &len);
	assert_int_equal(len, 0);
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_done(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_DONE, 1, (int64_t)123456789012),
			 0);
	assert_int_equal(frame_pack(&b, FRAME_DONE, 0, (int64_t)0), 0);
	read_one(&b, &fr, &f, FRAME_DONE);
	assert_int_equal(f.nfield, 2);
	assert_true(frame_bool(&f, 0));
	assert_int_equal(frame_int(&f, 1), 123456789012LL);
	frame_free(&f);
	{
		const char *errstr = NULL;

		assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	}
	assert_int_equal(f.type, FRAME_DONE);
	assert_false(frame_bool(&f, 0));
	assert_int_equal(frame_int(&f, 1), 0);
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_fwd(void **state)
{
	static const char body[] = "1:Azure:{}";
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *p;
	size_t len;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(
	    frame_pack(&b, FRAME_FWD, (int64_t)INT64_MAX, body, strlen(body)),
	    0);
	read_one(&b, &fr, &f, FRAME_FWD);
	assert_int_equal(frame_int(&f, 0), INT64_MAX);
	p = frame_bin(&f, 1, &len);
	assert_int_equal(len, strlen(body));
	assert_memory_equal(p, body, len);
	finish(&fr, &f);
	buf_free(&b);
}

static void
test_roundtrip_ack_negative(void **state)
{
	static const int64_t vals[] = {0,
				       1,
				       -1,
				       -32,
				       -33,
				       -129,
				       -32769,
				       -2147483649LL,
				       INT64_MIN,
				       127,
				       128,
				       65536,
				       4294967296LL,
				       INT64_MAX};
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL;
	size_t i;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		assert_int_equal(frame_pack(&b, FRAME_ACK, vals[i]), 0);
	frame_reader_init(&fr);
	feed_all(&fr, &b);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		assert_int_equal(frame_next(&fr, &f, &errstr), 1);
		assert_int_equal(f.type, FRAME_ACK);
		assert_int_equal(f.nfield, 1);
		assert_true(frame_int(&f, 0) == vals[i]);
		frame_free(&f);
	}
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	assert_false(frame_pending(&fr));
	frame_reader_free(&fr);
	buf_free(&b);
}

/* The wire format is the one documented in docs/internals.md. */
static void
test_wire_format(void **state)
{
	static const uint8_t want[] = {0, 0, 0, 4, 0x93, 0x01, 0x06, 0x07};
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(frame_pack(&b, FRAME_ACK, (int64_t)7), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	buf_free(&b);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(frame_type_name(FRAME_HELLO), "HELLO");
	assert_string_equal(frame_type_name(FRAME_CHECKPOINT), "CHECKPOINT");
	assert_string_equal(frame_type_name(FRAME_EVENT), "EVENT");
	assert_string_equal(frame_type_name(FRAME_DONE), "DONE");
	assert_string_equal(frame_type_name(FRAME_FWD), "FWD");
	assert_string_equal(frame_type_name(FRAME_ACK), "ACK");
	assert_string_equal(frame_type_name(0), "?");
	assert_string_equal(frame_type_name(FRAME_TYPE_MAX), "?");
	assert_string_equal(frame_type_name(-1), "?");
}

/* ---- streams ---------------------------------------------------------- */

static void
test_several_frames_one_buffer(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_CHECKPOINT, "a", "b"), 0);
	assert_int_equal(
	    frame_pack(&b, FRAME_EVENT, "t", "i", "body", (size_t)4), 0);
	assert_int_equal(frame_pack(&b, FRAME_DONE, 1, (int64_t)1), 0);
	frame_reader_init(&fr);
	feed_all(&fr, &b);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(f.type, FRAME_CHECKPOINT);
	expect_str(&f, 1, "b");
	frame_free(&f);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(f.type, FRAME_EVENT);
	expect_str(&f, 1, "i");
	frame_free(&f);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(f.type, FRAME_DONE);
	assert_int_equal(frame_int(&f, 1), 1);
	frame_free(&f);
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	assert_false(frame_pending(&fr));
	frame_reader_free(&fr);
	buf_free(&b);
}

static void
test_one_byte_at_a_time(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL;
	size_t i, first_len;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_HELLO, "graph", "key",
				    "auditLogs/directoryAudits", (int64_t)-1, 0,
				    "", (int64_t)0),
			 0);
	first_len = b.len;
	assert_int_equal(frame_pack(&b, FRAME_ACK, (int64_t)-5), 0);
	frame_reader_init(&fr);
	for (i = 0; i < first_len - 1; i++) {
		assert_int_equal(frame_reader_feed(&fr, b.data + i, 1), 0);
		assert_int_equal(frame_next(&fr, &f, &errstr), 0);
		assert_true(frame_pending(&fr));
	}
	assert_int_equal(frame_reader_feed(&fr, b.data + i++, 1), 0);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(f.type, FRAME_HELLO);
	expect_str(&f, 2, "auditLogs/directoryAudits");
	assert_int_equal(frame_int(&f, 3), -1);
	frame_free(&f);
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	for (; i < b.len - 1; i++) {
		assert_int_equal(frame_reader_feed(&fr, b.data + i, 1), 0);
		assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	}
	assert_int_equal(frame_reader_feed(&fr, b.data + i, 1), 0);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(frame_int(&f, 0), -5);
	frame_free(&f);
	assert_false(frame_pending(&fr));
	frame_reader_free(&fr);
	buf_free(&b);
}

/* Many frames, partly consumed, so the reader compacts its buffer while a
 * partial frame is pending: nothing may be lost or reordered. */
static void
test_stream_across_compaction(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL, *p;
	char body[1000];
	size_t off = 0, chunk = 777, len;
	int64_t next = 0;
	int i, rc;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	for (i = 0; i < 400; i++) {
		memset(body, 'a' + i % 26, sizeof(body));
		assert_int_equal(frame_pack(&b, FRAME_FWD, (int64_t)i, body,
					    (size_t)(i * 2 % 1000)),
				 0);
	}
	frame_reader_init(&fr);
	while (off < b.len) {
		len = b.len - off < chunk ? b.len - off : chunk;
		assert_int_equal(frame_reader_feed(&fr, b.data + off, len), 0);
		off += len;
		while ((rc = frame_next(&fr, &f, &errstr)) == 1) {
			assert_int_equal(frame_int(&f, 0), next);
			p = frame_bin(&f, 1, &len);
			assert_int_equal(len, (size_t)(next * 2 % 1000));
			if (len > 0) {
				assert_int_equal(p[0], 'a' + next % 26);
				assert_int_equal(p[len - 1], 'a' + next % 26);
			}
			next++;
			frame_free(&f);
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(next, 400);
	assert_false(frame_pending(&fr));
	frame_reader_free(&fr);
	buf_free(&b);
}

static void
test_reader_fill_from_pipe(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL;
	int fds[2];

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(frame_pack(&b, FRAME_CHECKPOINT, "x", "y"), 0);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], b.data, b.len), (ssize_t)b.len);
	/* and half of a second frame, then end of file */
	assert_int_equal(write(fds[1], b.data, 3), 3);
	close(fds[1]);
	frame_reader_init(&fr);
	assert_int_equal(frame_reader_fill(&fr, fds[0]), (long)b.len + 3);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	expect_str(&f, 0, "x");
	frame_free(&f);
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	assert_int_equal(frame_reader_fill(&fr, fds[0]), 0);
	assert_true(fr.eof);
	assert_true(frame_pending(&fr)); /* truncated frame at EOF */
	close(fds[0]);
	frame_reader_free(&fr);
	buf_free(&b);
}

static void
test_truncated_frame(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL;

	(void)state;
	buf_init(&b, FRAME_MAX + 4);
	assert_int_equal(
	    frame_pack(&b, FRAME_EVENT, "t", "id", "payload", (size_t)7), 0);
	frame_reader_init(&fr);
	assert_int_equal(frame_reader_feed(&fr, b.data, b.len - 1), 0);
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	assert_true(frame_pending(&fr));
	/* header only, 3 bytes of header */
	frame_reader_free(&fr);
	frame_reader_init(&fr);
	assert_int_equal(frame_reader_feed(&fr, b.data, 3), 0);
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	assert_true(frame_pending(&fr));
	frame_reader_free(&fr);
	buf_free(&b);
}

/* ---- lengths ---------------------------------------------------------- */

/* Only the 4 header bytes are present: a bad length must be refused now,
 * not after waiting for (and buffering) N bytes. */
static void
expect_bad_length(uint32_t len)
{
	struct frame_reader fr;
	struct frame f;
	const char *errstr = NULL;
	uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};

	frame_reader_init(&fr);
	assert_int_equal(frame_reader_feed(&fr, h, 4), 0);
	assert_int_equal(frame_next(&fr, &f, &errstr), -1);
	assert_non_null(errstr);
	assert_non_null(strstr(errstr, "length"));
	frame_reader_free(&fr);
}

static void
test_length_zero_rejected(void **state)
{
	(void)state;
	expect_bad_length(0);
}

static void
test_length_too_large_rejected(void **state)
{
	(void)state;
	expect_bad_length(FRAME_MAX + 1);
	expect_bad_length(0x7fffffffu);
	expect_bad_length(0xffffffffu);
}

static void
test_length_max_waits(void **state)
{
	struct frame_reader fr;
	struct frame f;
	const char *errstr = NULL;
	uint8_t h[4] = {(uint8_t)(FRAME_MAX >> 24), (uint8_t)(FRAME_MAX >> 16),
			(uint8_t)(FRAME_MAX >> 8), (uint8_t)FRAME_MAX};

	(void)state;
	frame_reader_init(&fr);
	assert_int_equal(frame_reader_feed(&fr, h, 4), 0);
	assert_int_equal(frame_next(&fr, &f, &errstr), 0);
	frame_reader_free(&fr);
}

/* FWD overhead: fixarray(1) + version(1) + type(1) + seq 7 (1) + bin32
 * header (5) = 9 bytes. A body of FRAME_MAX - 9 makes a frame of exactly
 * FRAME_MAX, which must pass both ways; one byte more must be refused by
 * the packer, leaving the output buffer as it was. */
static void
test_pack_limit(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL, *p;
	size_t n = FRAME_MAX - 9, len;
	char *body = calloc(1, FRAME_MAX);

	(void)state;
	assert_non_null(body);
	body[0] = 'A';
	body[n - 1] = 'Z';
	buf_init(&b, 2 * FRAME_MAX + 64);
	assert_int_equal(frame_pack(&b, FRAME_ACK, (int64_t)1), 0);
	assert_int_equal(frame_pack(&b, FRAME_FWD, (int64_t)7, body, n), 0);
	assert_int_equal(b.len, 8 + 4 + FRAME_MAX);
	assert_int_equal(frame_pack(&b, FRAME_FWD, (int64_t)7, body, n + 1),
			 -1);
	assert_int_equal(b.len, 8 + 4 + FRAME_MAX);
	frame_reader_init(&fr);
	feed_all(&fr, &b);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	frame_free(&f);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(f.type, FRAME_FWD);
	p = frame_bin(&f, 1, &len);
	assert_int_equal(len, n);
	assert_int_equal(p[0], 'A');
	assert_int_equal(p[n - 1], 'Z');
	frame_free(&f);
	assert_false(frame_pending(&fr));
	frame_reader_free(&fr);
	buf_free(&b);
	free(body);
}

/*
 * A valid stream must always be readable, whatever the read sizes: 65536
 * bytes of small frames, then a frame of the maximum size, then one more
 * frame. The bytes arrive as frame_reader_fill() would deliver them (at
 * most 64 KiB per call, the first call ending 1 byte into the big frame),
 * and the caller parses what it can after every call. Each frame is
 * within FRAME_MAX, so no call may fail.
 */
static void
test_max_frame_after_parsed_prefix(void **state)
{
	struct frame_reader fr;
	struct frame f;
	struct buf b;
	const char *errstr = NULL;
	size_t n = FRAME_MAX - 9, off, len, first;
	char *body = calloc(1, FRAME_MAX);
	int i, rc, nack = 0, nbig = 0;

	(void)state;
	assert_non_null(body);
	buf_init(&b, 2 * FRAME_MAX);
	for (i = 0; i < 8192; i++) /* 8192 ACKs of 8 bytes = 65536 */
		assert_int_equal(frame_pack(&b, FRAME_ACK, (int64_t)(i % 100)),
				 0);
	assert_int_equal(b.len, 65536);
	assert_int_equal(frame_pack(&b, FRAME_FWD, (int64_t)1, body, n), 0);
	assert_int_equal(frame_pack(&b, FRAME_ACK, (int64_t)-1), 0);
	frame_reader_init(&fr);
	first = 65536 + 1;
	for (off = 0; off < b.len; off += len) {
		len = off == 0		    ? first
		      : b.len - off < 65536 ? b.len - off
					    : 65536;
		if (frame_reader_feed(&fr, b.data + off, len) != 0) {
			frame_reader_free(&fr);
			buf_free(&b);
			free(body);
			fail_msg("feeding bytes %zu..%zu of a valid stream "
				 "failed (reader buffer full)",
				 off, off + len);
		}
		while ((rc = frame_next(&fr, &f, &errstr)) == 1) {
			if (f.type == FRAME_FWD)
				nbig++;
			else
				nack++;
			frame_free(&f);
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(nack, 8193);
	assert_int_equal(nbig, 1);
	frame_reader_free(&fr);
	buf_free(&b);
	free(body);
}

static void
test_pack_full_buffer(void **state)
{
	struct buf b;
	char big[200];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 64);
	assert_int_equal(frame_pack(&b, FRAME_ACK, (int64_t)1), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(frame_pack(&b, FRAME_CHECKPOINT, big, "y"), -1);
	assert_int_equal(b.len, 8);
	buf_free(&b);
}

/* ---- malformed bodies -------------------------------------------------- */

static void
test_garbage_msgpack(void **state)
{
	static const uint8_t never_used[] = {0xc1};
	static const uint8_t cut_array[] = {0x93, 0x01}; /* 3 items, 1 given */
	static const uint8_t cut_str[] = {0x92, 0x01, 0xa5, 'a'};
	struct frame_reader fr;
	struct frame f;
	const char *errstr;

	(void)state;
	frame_reader_init(&fr);
	feed_raw(&fr, never_used, sizeof(never_used));
	errstr = NULL;
	assert_int_equal(frame_next(&fr, &f, &errstr), -1);
	assert_non_null(errstr);
	frame_reader_free(&fr);

	frame_reader_init(&fr);
	feed_raw(&fr, cut_array, sizeof(cut_array));
	errstr = NULL;
	assert_int_equal(frame_next(&fr, &f, &errstr), -1);
	assert_non_null(errstr);
	frame_reader_free(&fr);

	frame_reader_init(&fr);
	feed_raw(&fr, cut_str, sizeof(cut_str));
	errstr = NULL;
	assert_int_equal(frame_next(&fr, &f, &errstr), -1);
	assert_non_null(errstr);
	frame_reader_free(&fr);
}

/* A valid ACK followed by a stray byte inside the same frame length. */
static void
test_trailing_bytes_in_frame(void **state)
{
	static const uint8_t body[] = {0x93, 0x01, 0x06, 0x07, 0x00};
	struct frame_reader fr;
	struct frame f;
	const char *errstr = NULL;

	(void)state;
	frame_reader_init(&fr);
	feed_raw(&fr, body, sizeof(body));
	assert_int_equal(frame_next(&fr, &f, &errstr), -1);
	assert_non_null(errstr);
	frame_reader_free(&fr);
}

static void
test_not_an_array(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 0);
	expect_bad_body(&sb, "flat msgpack array");
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 1);
	expect_bad_body(&sb, "not [version, type");
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "1", 1);
	msgpack_pack_int(&pk, 6);
	expect_bad_body(&sb, "not [version, type");
	msgpack_sbuffer_destroy(&sb);
}

/* An array header declaring 4G elements (or a nested container) is refused
 * before msgpack-c would allocate for it. */
static void
test_hostile_counts(void **state)
{
	static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t nested[] = {0x93, 0x01, 0x06, 0x91, 0x05};
	static const uint8_t str_overrun[] = {0x93, 0x01, 0x06, 0xdb,
					      0xff, 0xff, 0xff, 0xff};
	msgpack_sbuffer sb = {0};

	(void)state;
	sb.data = (char *)(uintptr_t)huge;
	sb.size = sizeof(huge);
	expect_bad_body(&sb, "flat msgpack array");
	sb.data = (char *)(uintptr_t)nested;
	sb.size = sizeof(nested);
	expect_bad_body(&sb, "flat msgpack array");
	sb.data = (char *)(uintptr_t)str_overrun;
	sb.size = sizeof(str_overrun);
	expect_bad_body(&sb, "flat msgpack array");
}

static void
test_wrong_version(void **state)
{
	static const int versions[] = {0, 2, 255};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_int(&pk, versions[i]);
		msgpack_pack_int(&pk, FRAME_ACK);
		msgpack_pack_int(&pk, 7);
		expect_bad_body(&sb, "version");
	}
	/* a negative version is not a version at all */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, -1);
	msgpack_pack_int(&pk, FRAME_ACK);
	msgpack_pack_int(&pk, 7);
	expect_bad_body(&sb, "version");
	msgpack_sbuffer_destroy(&sb);
}

static void
test_unknown_type(void **state)
{
	static const int64_t types[] = {0, FRAME_TYPE_MAX, 100, 4294967296LL};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_int(&pk, FRAME_VERSION);
		msgpack_pack_int64(&pk, types[i]);
		msgpack_pack_int(&pk, 7);
		expect_bad_body(&sb, "type");
	}
	msgpack_sbuffer_destroy(&sb);
}

static void
test_wrong_field_count(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* ACK without its seq */
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_ACK);
	expect_bad_body(&sb, "number of fields");
	/* ACK with one field too many */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_ACK);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 2);
	expect_bad_body(&sb, "number of fields");
	/* CHECKPOINT with only min */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_CHECKPOINT);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "a", 1);
	expect_bad_body(&sb, "number of fields");
	msgpack_sbuffer_destroy(&sb);
}

static void
test_wrong_field_type(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* ACK seq as a string */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_ACK);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "7", 1);
	expect_bad_body(&sb, "field type");
	/* EVENT body as a str instead of bin */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_EVENT);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "t", 1);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "i", 1);
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "{}", 2);
	expect_bad_body(&sb, "field type");
	/* DONE ok as an integer instead of a boolean */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_DONE);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 0);
	expect_bad_body(&sb, "field type");
	/* HELLO offset as a float */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_HELLO);
	msgpack_pack_str(&pk, 5);
	msgpack_pack_str_body(&pk, "graph", 5);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "k", 1);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "q", 1);
	msgpack_pack_double(&pk, 1.0);
	msgpack_pack_true(&pk);
	expect_bad_body(&sb, "flat msgpack array");
	/* CHECKPOINT min as nil */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_CHECKPOINT);
	msgpack_pack_nil(&pk);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "b", 1);
	expect_bad_body(&sb, "flat msgpack array");
	msgpack_sbuffer_destroy(&sb);
}

/* A hand-packed frame with negative integers in its int fields decodes to
 * the same values (another implementation may pack -1 as a fixint). */
static void
test_negative_int_fields_handmade(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct frame_reader fr;
	struct frame f;
	const char *errstr = NULL;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_int(&pk, FRAME_VERSION);
	msgpack_pack_int(&pk, FRAME_HELLO);
	msgpack_pack_str(&pk, 5);
	msgpack_pack_str_body(&pk, "graph", 5);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "k", 1);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "q", 1);
	msgpack_pack_int8(&pk, -1);
	msgpack_pack_false(&pk);
	msgpack_pack_str(&pk, 0);
	msgpack_pack_int8(&pk, -1);
	frame_reader_init(&fr);
	feed_raw(&fr, sb.data, sb.size);
	assert_int_equal(frame_next(&fr, &f, &errstr), 1);
	assert_int_equal(frame_int(&f, 3), -1);
	assert_false(frame_bool(&f, 4));
	frame_free(&f);
	frame_reader_free(&fr);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_hello),
	    cmocka_unit_test(test_roundtrip_hello_no_offset),
	    cmocka_unit_test(test_roundtrip_storage),
	    cmocka_unit_test(test_roundtrip_result),
	    cmocka_unit_test(test_roundtrip_checkpoint),
	    cmocka_unit_test(test_roundtrip_event_with_nul_bytes),
	    cmocka_unit_test(test_roundtrip_event_empty),
	    cmocka_unit_test(test_roundtrip_done),
	    cmocka_unit_test(test_roundtrip_fwd),
	    cmocka_unit_test(test_roundtrip_ack_negative),
	    cmocka_unit_test(test_wire_format),
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_several_frames_one_buffer),
	    cmocka_unit_test(test_one_byte_at_a_time),
	    cmocka_unit_test(test_stream_across_compaction),
	    cmocka_unit_test(test_reader_fill_from_pipe),
	    cmocka_unit_test(test_truncated_frame),
	    cmocka_unit_test(test_length_zero_rejected),
	    cmocka_unit_test(test_length_too_large_rejected),
	    cmocka_unit_test(test_length_max_waits),
	    cmocka_unit_test(test_pack_limit),
	    cmocka_unit_test(test_max_frame_after_parsed_prefix),
	    cmocka_unit_test(test_pack_full_buffer),
	    cmocka_unit_test(test_garbage_msgpack),
	    cmocka_unit_test(test_trailing_bytes_in_frame),
	    cmocka_unit_test(test_not_an_array),
	    cmocka_unit_test(test_hostile_counts),
	    cmocka_unit_test(test_wrong_version),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_wrong_field_count),
	    cmocka_unit_test(test_wrong_field_type),
	    cmocka_unit_test(test_negative_int_fields_handmade),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

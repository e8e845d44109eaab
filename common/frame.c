/*
 * Length-prefixed msgpack frames (see frame.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"

static const struct {
	const char *name;
	const char *sig;
} frame_sigs[FRAME_TYPE_MAX] = {
    [FRAME_HELLO] = {"HELLO", "sssitsi"},
    [FRAME_CHECKPOINT] = {"CHECKPOINT", "ss"},
    [FRAME_EVENT] = {"EVENT", "ssb"},
    [FRAME_DONE] = {"DONE", "ti"},
    [FRAME_FWD] = {"FWD", "ib"},
    [FRAME_ACK] = {"ACK", "i"},
    [FRAME_BLOBQ] = {"BLOBQ", "ss"},
    [FRAME_BLOBSTATE] = {"BLOBSTATE", "si"},
    [FRAME_BLOB] = {"BLOB", "sssi"},
    [FRAME_PRUNE] = {"PRUNE", "ss"},
    [FRAME_RESULT] = {"RESULT", "tiii"},
};

const char *
frame_type_name(int type)
{
	if (type <= 0 || type >= FRAME_TYPE_MAX)
		return "?";
	return frame_sigs[type].name;
}

static int
frame_buf_write(void *data, const char *p, size_t n)
{
	return buf_append(data, p, n);
}

/*
 * Append one frame of the given type to out, fields as the type's signature
 * says. Matched by frame_next(). Returns 0, or -1 if out is full or the
 * frame would exceed FRAME_MAX (out is left as it was).
 */
int
frame_pack(struct buf *out, int type, ...)
{
	msgpack_packer pk;
	const char *sig, *s;
	const void *p;
	size_t start = out->len, n, len;
	uint8_t hdr[4] = {0};
	va_list ap;
	int rc = 0;

	if (type <= 0 || type >= FRAME_TYPE_MAX)
		fatalx("frame_pack: bad type %d", type);
	sig = frame_sigs[type].sig;
	if (buf_append(out, hdr, sizeof(hdr)) == -1)
		return -1;
	msgpack_packer_init(&pk, out, frame_buf_write);
	rc |= msgpack_pack_array(&pk, 2 + strlen(sig));
	rc |= msgpack_pack_int(&pk, FRAME_VERSION);
	rc |= msgpack_pack_int(&pk, type);
	va_start(ap, type);
	for (; *sig; sig++) {
		switch (*sig) {
		case 's':
			s = va_arg(ap, const char *);
			n = strlen(s);
			rc |= msgpack_pack_str(&pk, n);
			rc |= msgpack_pack_str_body(&pk, s, n);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			rc |= msgpack_pack_bin(&pk, n);
			rc |= msgpack_pack_bin_body(&pk, p, n);
			break;
		case 'i':
			rc |= msgpack_pack_int64(&pk, va_arg(ap, int64_t));
			break;
		case 't':
			if (va_arg(ap, int))
				rc |= msgpack_pack_true(&pk);
			else
				rc |= msgpack_pack_false(&pk);
			break;
		}
	}
	va_end(ap);
	len = out->len - start - 4;
	if (rc != 0 || len > FRAME_MAX) {
		out->len = start;
		return -1;
	}
	hdr[0] = len >> 24;
	hdr[1] = len >> 16;
	hdr[2] = len >> 8;
	hdr[3] = len;
	memcpy(out->data + start, hdr, sizeof(hdr));
	return 0;
}

void
frame_reader_init(struct frame_reader *fr)
{
	buf_init(&fr->b, FRAME_MAX + 4 + 65536);
	fr->pos = 0;
	fr->eof = 0;
}

void
frame_reader_free(struct frame_reader *fr)
{
	buf_free(&fr->b);
}

/* Move unparsed bytes to the front once the parsed prefix is large, or
 * when n more bytes would not fit otherwise. */
static void
frame_reader_compact(struct frame_reader *fr, size_t n)
{
	if (fr->pos > 0 && (fr->pos == fr->b.len || fr->pos > 65536 ||
			    fr->b.len + n > fr->b.max)) {
		buf_consume(&fr->b, fr->pos);
		fr->pos = 0;
	}
}

int
frame_reader_feed(struct frame_reader *fr, const void *p, size_t n)
{
	frame_reader_compact(fr, n);
	return buf_append(&fr->b, p, n);
}

/*
 * Read what the descriptor has (one read). Returns bytes read, 0 at end of
 * file (sets eof), -1 on error (errno set; EAGAIN for non-blocking fds).
 */
long
frame_reader_fill(struct frame_reader *fr, int fd)
{
	char tmp[65536];
	ssize_t n;

	frame_reader_compact(fr, sizeof(tmp));
	do {
		n = read(fd, tmp, sizeof(tmp));
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0) {
		fr->eof = 1;
		return 0;
	}
	if (buf_append(&fr->b, tmp, (size_t)n) == -1) {
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

/* Bytes received but not yet parsed (a partial frame at EOF is an error). */
int
frame_pending(const struct frame_reader *fr)
{
	return fr->b.len > fr->pos;
}

static bool
frame_field_ok(const msgpack_object *o, char c)
{
	switch (c) {
	case 's':
		return o->type == MSGPACK_OBJECT_STR;
	case 'b':
		return o->type == MSGPACK_OBJECT_BIN;
	case 'i':
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
	case 't':
		return o->type == MSGPACK_OBJECT_BOOLEAN;
	}
	return false;
}

/* Big-endian unsigned of n bytes at p. */
static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/*
 * Check that the msgpack bytes of a frame are one flat array of at most
 * FRAME_FIELDS_MAX scalars (strings, binaries, integers, booleans), each
 * within the frame, before msgpack-c sees them: it allocates from the
 * counts an array header declares, which a hostile peer chooses.
 */
static int
frame_precheck(const uint8_t *p, size_t len)
{
	size_t pos = 1, n, i, hdr, body;
	uint8_t c;

	if (len == 0)
		return -1;
	c = p[0];
	if (c >= 0x90 && c <= 0x9f)
		n = c & 0x0f;
	else if (c == 0xdc && len >= 3) {
		n = (size_t)be(p + 1, 2);
		pos = 3;
	} else
		return -1;
	if (n > FRAME_FIELDS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (pos >= len)
			return -1;
		c = p[pos];
		hdr = 1;
		body = 0;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc2 || c == 0xc3)
			;
		else if (c >= 0xa0 && c <= 0xbf)
			body = c & 0x1f;
		else if (c == 0xcc || c == 0xd0)
			body = 1;
		else if (c == 0xcd || c == 0xd1)
			body = 2;
		else if (c == 0xce || c == 0xd2)
			body = 4;
		else if (c == 0xcf || c == 0xd3)
			body = 8;
		else if (c == 0xd9 || c == 0xc4)
			hdr = 2;
		else if (c == 0xda || c == 0xc5)
			hdr = 3;
		else if (c == 0xdb || c == 0xc6)
			hdr = 5;
		else
			return -1; /* nil, floats, containers, extensions */
		if (hdr > 1) {
			if (len - pos < hdr)
				return -1;
			body = (size_t)be(p + pos + 1, hdr - 1);
		}
		if (len - pos - hdr < body)
			return -1;
		pos += hdr + body;
	}
	return pos == len ? 0 : -1;
}

/*
 * Decode the next whole frame. Returns 1 with *f filled (free it with
 * frame_free), 0 if more bytes are needed, -1 on a protocol error of the
 * peer (*errstr says which).
 */
int
frame_next(struct frame_reader *fr, struct frame *f, const char **errstr)
{
	const uint8_t *p = (const uint8_t *)fr->b.data + fr->pos;
	size_t avail = fr->b.len - fr->pos, off = 0;
	const msgpack_object *a;
	const char *sig;
	uint32_t len, i;
	int64_t type;

	if (avail < 4)
		return 0;
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	      (uint32_t)p[2] << 8 | p[3];
	if (len == 0 || len > FRAME_MAX) {
		*errstr = "frame length out of range";
		return -1;
	}
	if (avail - 4 < len)
		return 0;
	memset(f, 0, sizeof(*f));
	if (frame_precheck(p + 4, len) == -1) {
		*errstr = "frame is not one flat msgpack array of scalars";
		return -1;
	}
	msgpack_unpacked_init(&f->u);
	if (msgpack_unpack_next(&f->u, (const char *)p + 4, len, &off) !=
		MSGPACK_UNPACK_SUCCESS ||
	    off != len) {
		*errstr = "malformed msgpack in frame";
		goto bad;
	}
	a = &f->u.data;
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 2 ||
	    a->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*errstr = "frame is not [version, type, ...]";
		goto bad;
	}
	if (a->via.array.ptr[0].via.u64 != FRAME_VERSION) {
		*errstr = "unsupported frame version";
		goto bad;
	}
	type = (int64_t)a->via.array.ptr[1].via.u64;
	if (type <= 0 || type >= FRAME_TYPE_MAX) {
		*errstr = "unknown frame type";
		goto bad;
	}
	sig = frame_sigs[type].sig;
	if (a->via.array.size != 2 + strlen(sig)) {
		*errstr = "wrong number of fields in frame";
		goto bad;
	}
	for (i = 0; sig[i]; i++)
		if (!frame_field_ok(&a->via.array.ptr[2 + i], sig[i])) {
			*errstr = "wrong field type in frame";
			goto bad;
		}
	f->type = (int)type;
	f->field = a->via.array.ptr + 2;
	f->nfield = a->via.array.size - 2;
	fr->pos += 4 + len;
	return 1;
bad:
	msgpack_unpacked_destroy(&f->u);
	memset(f, 0, sizeof(*f));
	return -1;
}

void
frame_free(struct frame *f)
{
	if (f->field != NULL)
		msgpack_unpacked_destroy(&f->u);
	memset(f, 0, sizeof(*f));
}

char *
frame_strdup(const struct frame *f, unsigned i)
{
	const msgpack_object_str *s = &f->field[i].via.str;
	char *p = xmalloc(s->size + 1);

	if (s->size > 0)
		memcpy(p, s->ptr, s->size);
	p[s->size] = '\0';
	return p;
}

const char *
frame_bin(const struct frame *f, unsigned i, size_t *len)
{
	*len = f->field[i].via.bin.size;
	return f->field[i].via.bin.ptr;
}

int64_t
frame_int(const struct frame *f, unsigned i)
{
	if (f->field[i].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return f->field[i].via.i64;
	return (int64_t)f->field[i].via.u64;
}

int
frame_bool(const struct frame *f, unsigned i)
{
	return f->field[i].via.boolean;
}

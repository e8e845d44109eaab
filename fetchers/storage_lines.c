/*
 * Blob contents as Wazuh's storage collector reads them: lines split as
 * Python's str.splitlines() does (empty ones dropped), fed in any chunks,
 * and the three payload shapes (plain text, json_inline, json_file).
 */
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "pyjson.h"
#include "storage.h"

void
storage_lines_init(struct storage_lines *s, size_t max_line)
{
	memset(s, 0, sizeof(*s));
	s->max_line = max_line;
	/* two more bytes: the start of a UTF-8 separator held back */
	buf_init(&s->partial, max_line + 2);
}

void
storage_lines_free(struct storage_lines *s)
{
	buf_free(&s->partial);
}

/*
 * Length of the line separator at q (avail bytes known), other than "\r":
 * \n \v \f \x1c \x1d \x1e, U+0085 (C2 85), U+2028/2029 (E2 80 A8/A9).
 * Returns its length, 0 if q does not start one, or -1 if the bytes so far
 * may begin one and more are needed.
 */
static int
sep_len(const unsigned char *q, size_t avail)
{
	switch (q[0]) {
	case '\n':
	case 0x0b:
	case 0x0c:
	case 0x1c:
	case 0x1d:
	case 0x1e:
		return 1;
	case 0xc2:
		if (avail < 2)
			return -1;
		return q[1] == 0x85 ? 2 : 0;
	case 0xe2:
		if (avail < 2)
			return -1;
		if (q[1] != 0x80)
			return 0;
		if (avail < 3)
			return -1;
		return q[2] == 0xa8 || q[2] == 0xa9 ? 3 : 0;
	default:
		return 0;
	}
}

/* Bytes that may start a line separator: \n \v \f \r \x1c \x1d \x1e and
 * the first bytes of U+0085 (C2) and U+2028/2029 (E2). */
static const unsigned char sep_start[256] = {
    [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x1c] = 1,
    [0x1d] = 1, [0x1e] = 1, [0xc2] = 1, [0xe2] = 1,
};

/*
 * Index of the first byte of u[i..n) that may start a separator, or n.
 * Lines are long and separators rare: 16 bytes at a time where SSE2 is
 * there (every x86-64), the candidates (any byte <= 0x1e, C2, E2) checked
 * against the table.
 */
static size_t
next_candidate(const unsigned char *u, size_t i, size_t n)
{
#ifdef __SSE2__
	const __m128i c1e = _mm_set1_epi8(0x1e),
		      cc2 = _mm_set1_epi8((char)0xc2),
		      ce2 = _mm_set1_epi8((char)0xe2);
	__m128i v, m;
	unsigned mask;

	while (i + 16 <= n) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		m = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, c1e), v),
				 _mm_or_si128(_mm_cmpeq_epi8(v, cc2),
					      _mm_cmpeq_epi8(v, ce2)));
		mask = (unsigned)_mm_movemask_epi8(m);
		while (mask) {
			size_t j = i + (size_t)__builtin_ctz(mask);

			if (sep_start[u[j]])
				return j;
			mask &= mask - 1;
		}
		i += 16;
	}
#endif
	while (i < n && !sep_start[u[i]])
		i++;
	return i;
}

/*
 * A line ended: pass partial + p[0..n) to cb unless empty, and start a new
 * line. Returns 0 or -1 (too long, or cb failed).
 */
static int
line_end(struct storage_lines *s, const char *p, size_t n, storage_line_cb cb,
	 void *arg)
{
	int rc;

	if (s->partial.len == 0) {
		if (n > s->max_line)
			return -1;
		return n ? cb(arg, p, n) : 0;
	}
	if (s->partial.len + n > s->max_line ||
	    buf_append(&s->partial, p, n) == -1)
		return -1;
	rc = cb(arg, s->partial.data, s->partial.len);
	buf_reset(&s->partial);
	return rc == -1 ? -1 : 0;
}

/*
 * Bytes held at the end of partial (a possible separator start) meet the
 * next chunk. Returns how many bytes of p the decision used, or -1 on
 * error; a separator ends the line.
 */
static int
resolve_hold(struct storage_lines *s, const char *p, size_t n,
	     storage_line_cb cb, void *arg, int64_t base)
{
	unsigned char tmp[3];
	size_t k, hold = s->hold;
	int r;

	memcpy(tmp, s->partial.data + s->partial.len - hold, hold);
	k = n < 3 - hold ? n : 3 - hold;
	memcpy(tmp + hold, p, k);
	r = sep_len(tmp, hold + k);
	if (r == -1) { /* still undecided: n was too short */
		if (buf_append(&s->partial, p, n) == -1)
			return -1;
		s->hold += n;
		return (int)n;
	}
	s->hold = 0;
	if (r == 0) /* the held bytes are text */
		return 0;
	s->partial.len -= hold;
	if (line_end(s, p, 0, cb, arg) == -1)
		return -1;
	s->done = base + r - (int64_t)hold;
	return r - (int)hold;
}

/*
 * Feed n bytes of the blob; cb gets each complete non-empty line. A "\r"
 * ending the chunk ends its line at once (done moves past it); a "\n"
 * starting the next chunk then completes the "\r\n" and moves done past
 * it too. Lines held back (no terminator yet) wait for more bytes or
 * storage_lines_finish(). Returns 0, or -1 if a line exceeds max_line or
 * cb returned -1.
 */
int
storage_lines_feed(struct storage_lines *s, const char *p, size_t n,
		   storage_line_cb cb, void *arg)
{
	const unsigned char *u = (const unsigned char *)p;
	int64_t base = s->fed;
	size_t i = 0, start;
	int r;

	s->fed += (int64_t)n;
	if (n == 0)
		return 0;
	if (s->pending_cr) {
		s->pending_cr = 0;
		if (u[0] == '\n')
			s->done = base + (int64_t)++i;
	}
	if (s->hold) {
		if ((r = resolve_hold(s, p, n, cb, arg, base)) == -1)
			return -1;
		i = (size_t)r;
		if (s->hold)
			return 0;
	}
	for (start = i; i < n;) {
		if ((i = next_candidate(u, i, n)) == n)
			break;
		if (u[i] == '\r') {
			r = i + 1 < n && u[i + 1] == '\n' ? 2 : 1;
			s->pending_cr = i + 1 == n;
		} else if ((r = sep_len(u + i, n - i)) == -1) {
			s->hold = n - i;
			break;
		} else if (r == 0) {
			i++;
			continue;
		}
		if (line_end(s, p + start, i - start, cb, arg) == -1)
			return -1;
		i += (size_t)r;
		start = i;
		s->done = base + (int64_t)i;
	}
	if (s->partial.len + (n - start) - s->hold > s->max_line ||
	    buf_append(&s->partial, p + start, n - start) == -1)
		return -1;
	return 0;
}

/*
 * The blob is complete: its last line counts even without a terminator.
 * Returns 0 or -1 as storage_lines_feed(); done becomes fed.
 */
int
storage_lines_finish(struct storage_lines *s, storage_line_cb cb, void *arg)
{
	s->hold = 0;
	s->pending_cr = 0;
	if (line_end(s, NULL, 0, cb, arg) == -1)
		return -1;
	s->done = s->fed;
	return 0;
}

/*
 * Append a tag as Wazuh writes it. Deliberate improvement over Wazuh: a
 * tag holding '"', '\\' or control characters is escaped as the body of a
 * JSON string, so json_inline events stay valid JSON (and plain ones stay
 * on one line); any other tag gives Wazuh's exact bytes.
 */
static int
put_tag(struct buf *out, const char *tag)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *t;
	char e[6];
	size_t n;

	for (t = (const unsigned char *)tag; *t; t++) {
		n = 2;
		e[0] = '\\';
		if (*t == '"' || *t == '\\')
			e[1] = (char)*t;
		else if (*t == '\n')
			e[1] = 'n';
		else if (*t == '\r')
			e[1] = 'r';
		else if (*t == '\t')
			e[1] = 't';
		else if (*t == '\b')
			e[1] = 'b';
		else if (*t == '\f')
			e[1] = 'f';
		else if (*t < 0x20 || *t == 0x7f) {
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[*t >> 4];
			e[5] = hex[*t & 15];
			n = 6;
		} else {
			e[0] = (char)*t;
			n = 1;
		}
		if (buf_append(out, e, n) == -1)
			return -1;
	}
	return 0;
}

/*
 * Plain text event: "azure_tag: azure-storage. azure_storage_tag: <tag>.
 * <line>" (the tag part only with a non-empty tag). Returns 0 or -1 (out
 * full).
 */
int
storage_plain_event(const char *line, size_t len, const char *tag,
		    struct buf *out)
{
	if (buf_puts(out, "azure_tag: azure-storage.") == -1)
		return -1;
	if (tag && *tag &&
	    (buf_puts(out, " azure_storage_tag: ") == -1 ||
	     put_tag(out, tag) == -1 || buf_append(out, ".", 1) == -1))
		return -1;
	if (buf_append(out, " ", 1) == -1 || buf_append(out, line, len) == -1)
		return -1;
	return 0;
}

/* Bytes of the UTF-8 character starting at p (Python's line[1:]). */
static size_t
first_char_len(const char *p, size_t len)
{
	unsigned char c = (unsigned char)p[0];
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

	return n < len ? n : len;
}

/*
 * json_inline event: '{"azure_tag": "azure-storage"' (, '"azure_storage_tag":
 * "<tag>"'), ', ' and the line without its first character, as Wazuh.
 * Improvement: when the rest is only "}" (a line "{}"), no ", " is written,
 * so the event is {"azure_tag": "azure-storage"} and not Wazuh's invalid
 * ', }'. Returns 0 or -1 (out full).
 */
int
storage_inline_event(const char *line, size_t len, const char *tag,
		     struct buf *out)
{
	size_t skip = len ? first_char_len(line, len) : 0, i;

	if (buf_puts(out, "{\"azure_tag\": \"azure-storage\"") == -1)
		return -1;
	if (tag && *tag &&
	    (buf_puts(out, ", \"azure_storage_tag\": \"") == -1 ||
	     put_tag(out, tag) == -1 || buf_append(out, "\"", 1) == -1))
		return -1;
	for (i = skip; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (!(i < len && line[i] == '}') && buf_puts(out, ", ") == -1)
		return -1;
	return buf_append(out, line + skip, len - skip);
}

/* Add the tags to one record and emit its json.dumps() text. */
static int
record_event(json_t *rec, const char *tag, struct buf *payload,
	     int (*emit)(void *, const struct buf *), void *arg, char *err,
	     size_t errlen)
{
	json_t *t;

	if (json_object_set_new(rec, "azure_tag", json_string("azure-storage")))
		goto nomem;
	if (tag && *tag) {
		if ((t = json_string(tag)) == NULL) {
			snprintf(err, errlen, "The tag is not valid UTF-8.");
			return -1;
		}
		if (json_object_set_new(rec, "azure_storage_tag", t))
			goto nomem;
	}
	buf_reset(payload);
	if (pyjson_dump(rec, payload) == -1) {
		snprintf(err, errlen, "A record of the blob is too large.");
		return -1;
	}
	if (emit(arg, payload) == -1) {
		snprintf(err, errlen, "Could not send an event.");
		return -1;
	}
	return 0;
nomem:
	fatalx("out of memory");
}

/*
 * json_file: the blob is one JSON document; each element of its "records"
 * list, with "azure_tag" (and "azure_storage_tag") added, is emitted as
 * Python's json.dumps() writes it. Elements that are not objects (Wazuh's
 * Python dies on them) are skipped with a warning. Returns 0, or -1 with a
 * message in err: not JSON, no "records", records not a list, or emit
 * failed.
 */
int
storage_json_file_events(const char *doc, size_t len, const char *tag,
			 int (*emit)(void *arg, const struct buf *payload),
			 void *arg, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *records, *rec;
	struct buf payload;
	size_t i;
	int rc = 0;

	if ((root = pyjson_load(doc, len, &jerr)) == NULL) {
		snprintf(err, errlen,
			 "Error reading the contents of the blob: '%s'.",
			 jerr.text);
		return -1;
	}
	if (!json_is_object(root) ||
	    (records = json_object_get(root, "records")) == NULL) {
		snprintf(err, errlen,
			 "No records found in the blob's content: "
			 "''records''.");
		json_decref(root);
		return -1;
	}
	if (!json_is_array(records)) {
		snprintf(err, errlen, "The blob's \"records\" is not a list.");
		json_decref(root);
		return -1;
	}
	buf_init(&payload, 6 * len + 6 * (tag ? strlen(tag) : 0) + 4096);
	for (i = 0; i < json_array_size(records) && rc == 0; i++) {
		rec = json_array_get(records, i);
		if (!json_is_object(rec)) {
			log_warnx("Storage: skipping record %zu of a blob: "
				  "not an object",
				  i);
			continue;
		}
		rc = record_event(rec, tag, &payload, emit, arg, err, errlen);
	}
	buf_free(&payload);
	json_decref(root);
	return rc;
}

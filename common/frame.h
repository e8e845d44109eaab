/*
 * Frames between the roles: a 4-byte big-endian length N, then N bytes that
 * hold exactly one msgpack array [version, type, fields...].
 *
 * Every type has one field signature (frame.c, frame_sigs[]); frame_pack()
 * writes it and frame_next() checks it, so each encoder is matched by the
 * same entry its decoder uses. Signature letters:
 *   s  string  (encode: const char *, NUL-terminated)
 *   b  binary  (encode: const void *, size_t)
 *   i  integer (encode: int64_t)
 *   t  boolean (encode: int)
 */
#ifndef AZURE_FRAME_H
#define AZURE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "buf.h"

#define FRAME_VERSION	 1
#define FRAME_MAX	 (16u * 1024 * 1024)
#define FRAME_FIELDS_MAX 10 /* version, type and at most eight fields */

enum frame_type {
	FRAME_HELLO = 1,  /* fetcher -> sk: service key query offset reparse
			     fallback overlap */
	FRAME_CHECKPOINT, /* sk -> fetcher: min max */
	FRAME_EVENT,	  /* fetcher -> sk: time id body */
	FRAME_DONE,	  /* fetcher -> sk: ok events */
	FRAME_FWD,	  /* sk -> forwarder: seq body */
	FRAME_ACK,	  /* forwarder -> sk: seq */
	FRAME_BLOBQ,	  /* fetcher -> sk: container blob */
	FRAME_BLOBSTATE,  /* sk -> fetcher: creation_time bytes (-1: none) */
	FRAME_BLOB,   /* fetcher -> sk: container blob creation_time bytes */
	FRAME_PRUNE,  /* fetcher -> sk: container prefix */
	FRAME_RESULT, /* sk -> fetcher: ok delivered duplicates dead */
	FRAME_TYPE_MAX
};

struct frame {
	int type;
	const msgpack_object *field; /* fields after version and type */
	uint32_t nfield;
	msgpack_unpacked u;
};

struct frame_reader {
	struct buf b;
	size_t pos; /* start of the first unparsed byte in b */
	int eof;
};

int frame_pack(struct buf *, int type, ...);
const char *frame_type_name(int);

void frame_reader_init(struct frame_reader *);
void frame_reader_free(struct frame_reader *);
long frame_reader_fill(struct frame_reader *, int fd);
int frame_reader_feed(struct frame_reader *, const void *, size_t);
int frame_next(struct frame_reader *, struct frame *, const char **errstr);
int frame_pending(const struct frame_reader *);
void frame_free(struct frame *);

/* Field accessors; the frame was checked, so the types are right. */
char *frame_strdup(const struct frame *, unsigned);
const char *frame_bin(const struct frame *, unsigned, size_t *);
int64_t frame_int(const struct frame *, unsigned);
int frame_bool(const struct frame *, unsigned);

#endif

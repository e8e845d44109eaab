/*
 * Serialise a jansson value exactly as Python's json.dumps() does with its
 * defaults (", " and ": " separators, ensure_ascii, float repr), so the
 * payloads Wazuh's analysisd receives are byte-identical to those of
 * Wazuh's Python collector.
 */
#ifndef AZURE_PYJSON_H
#define AZURE_PYJSON_H

#include <jansson.h>

#include "buf.h"

/* Lone surrogates (\ud800 alone: Python accepts them, jansson does not)
 * travel as a NUL followed by a code point of U+10F800..U+10FFFF (a pair
 * no real text holds) and are written back as the same \uXXXX escape. */
#define PYJSON_LONE_BASE 0x10F800u

int pyjson_dump(json_t *, struct buf *);
int pyjson_fix_surrogates(const char *, size_t, struct buf *);
json_t *pyjson_load(const char *, size_t, json_error_t *);
int pyjson_real(double, struct buf *);
int pyjson_put_u16(struct buf *, unsigned);
/* The length of the UTF-8 sequence of 2 to 4 bytes at p (n bytes left)
 * as jansson accepts it, its code point in *cp; 0 if invalid. */
size_t pyjson_utf8_seq(const unsigned char *p, size_t n, unsigned *cp);
int pyjson_repr_digits(int neg, const char *digs, int nd, int exp10,
		       struct buf *);
int pyjson_string(const char *, size_t, struct buf *);

/*
 * The streaming transcoder (pyjson_fast.c): JSON text straight to
 * json.dumps() text, without a jansson tree. It accepts only text that
 * pyjson_load() accepts and then writes what pyjson_dump() would write of
 * it, byte for byte; anything else, or anything whose semantics are subtle
 * (a duplicate or escaped key, a lone surrogate, \u0000, an integer
 * jansson refuses, a number that overflows, nesting deeper than
 * PYJSON_FAST_DEPTH), makes it give up (-1): the caller then takes the
 * jansson path, which gives the exact answer or error.
 */
#define PYJSON_FAST_DEPTH 1000

struct pyjson_key {
	const char *p;
	size_t len;
	unsigned hash;
};

struct pyjson_in {
	const char *p;
	size_t len, pos;
	struct buf *out; /* where the text goes */
	int depth;
	struct pyjson_key *keys; /* of the objects being read */
	size_t nkeys, capkeys;
};

struct pyjson_obj {
	size_t mark;		  /* first key of this object in keys */
	unsigned long long bloom; /* of its key hashes */
};

void pyjson_in_init(struct pyjson_in *, const char *, size_t, struct buf *);
void pyjson_in_free(struct pyjson_in *);
void pyjson_in_ws(struct pyjson_in *);
int pyjson_in_value(struct pyjson_in *);
int pyjson_in_string(struct pyjson_in *, const char **raw, size_t *rawlen);
int pyjson_in_literal(struct pyjson_in *, const char *);
void pyjson_obj_begin(struct pyjson_in *, struct pyjson_obj *);
int pyjson_obj_key(struct pyjson_in *, struct pyjson_obj *, const char *,
		   size_t);
void pyjson_obj_end(struct pyjson_in *, struct pyjson_obj *);
int pyjson_fast_dump(const char *, size_t, struct buf *);
size_t pyjson_string_run(const char *, size_t);

#endif

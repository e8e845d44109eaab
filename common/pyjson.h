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

#endif

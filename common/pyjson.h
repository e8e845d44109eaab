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

int pyjson_dump(json_t *, struct buf *);
int pyjson_real(double, struct buf *);

#endif

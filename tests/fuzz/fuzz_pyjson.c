/*
 * Fuzz target, differential: the streaming transcoder (common/
 * pyjson_fast.c) against the jansson path (pyjson_load + pyjson_dump).
 * Whenever the transcoder accepts a text, jansson must accept it too and
 * pyjson_dump must write the same bytes; with a small output limit the
 * transcoder may only give up.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "pyjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf fast, tree, small;
	json_error_t jerr;
	json_t *j;
	char *copy;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	buf_init(&fast, (size_t)1 << 26);
	buf_init(&tree, (size_t)1 << 26);
	buf_init(&small, 64);
	if (pyjson_fast_dump(copy, size, &fast) == 0) {
		j = pyjson_load(copy, size, &jerr);
		if (j == NULL || pyjson_dump(j, &tree) == -1 ||
		    tree.len != fast.len ||
		    memcmp(tree.data, fast.data, fast.len) != 0)
			abort();
		json_decref(j);
		if (pyjson_fast_dump(copy, size, &small) == 0 &&
		    (small.len != fast.len ||
		     memcmp(small.data, fast.data, fast.len) != 0))
			abort();
	}
	buf_free(&fast);
	buf_free(&tree);
	buf_free(&small);
	free(copy);
	return 0;
}

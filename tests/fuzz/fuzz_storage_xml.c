/*
 * Fuzz target: List Containers / List Blobs answers (fetchers/
 * storage_xml.c), fed in two pieces: the parser must refuse what is not a
 * listing, never read out of bounds, and never expand entities.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
on_container(void *arg, const char *name)
{
	(void)arg;
	return strlen(name) > STORAGE_XML_NAME_MAX ? -1 : 0;
}

static int
on_blob(void *arg, const struct storage_blob *b)
{
	(void)arg;
	return strlen(b->name) > STORAGE_XML_NAME_MAX ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct storage_list_cb cb = {on_container, on_blob, NULL};
	struct storage_list *l = storage_list_new(&cb);
	const char *p = (const char *)data;

	if (storage_list_feed(l, p, size / 2, 0) == 0)
		(void)storage_list_feed(l, p + size / 2, size - size / 2, 1);
	(void)storage_list_next_marker(l);
	(void)storage_list_error(l);
	storage_list_free(l);
	return 0;
}

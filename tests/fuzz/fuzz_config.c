/*
 * Fuzz target: ossec.conf as azure-config reads it (config/conf.c), with
 * its messages silenced.
 */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_result res;
	struct buf out;

	log_init("fuzz", -1);
	buf_init(&out, CONF_OUTPUT_MAX + (1u << 20));
	conf_parse("fuzz", (const char *)data, size, &out, &res);
	buf_free(&out);
	return 0;
}

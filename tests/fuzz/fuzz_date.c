/*
 * Fuzz target: dates from Azure, azure.db and legacy files
 * (common/date.c). A date that parses formats and parses back to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256], out[DATE_STRLEN];
	int64_t t, back;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (date_parse(s, &t) == 0) {
		date_format_iso(t, out);
		if (date_parse(out, &back) != 0 || back != t)
			abort();
		if (date_canonical(s, out) != 0 || date_parse(out, &back) != 0)
			abort();
	}
	return 0;
}

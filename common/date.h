/*
 * Dates as Azure and Wazuh write them, held as 100 ns ticks since
 * 1970-01-01T00:00:00Z (Azure sends up to 7 fractional digits).
 */
#ifndef AZURE_DATE_H
#define AZURE_DATE_H

#include <stdint.h>

#define DATE_TICKS_PER_SEC 10000000LL
#define DATE_STRLEN	   32
#define DATE_EPOCH_STR	   "1970-01-01T00:00:00.000000Z"

int date_parse(const char *, int64_t *);
void date_format(int64_t, char out[DATE_STRLEN]);
void date_format_iso(int64_t, char out[DATE_STRLEN]);
int64_t date_now(void);
int64_t date_today(int64_t);
int date_canonical(const char *, char out[DATE_STRLEN]);

#endif

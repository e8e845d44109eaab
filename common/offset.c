/*
 * Wazuh's time offsets: "<N>m", "<N>h" or "<N>d", spaces ignored; and the
 * durations of our own options.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* Ten thousand years: far beyond any retention, and no overflow when
 * turned into 100 ns ticks. */
#define OFFSET_MAX_SECS (10000LL * 366 * 86400)

/*
 * Parse an offset into seconds. Returns 0, or -1 if it is not of Wazuh's
 * form (the caller prints Wazuh's message).
 */
int
offset_parse(const char *s, int64_t *seconds)
{
	int64_t v = 0, mult;
	int ndig = 0;
	char unit = '\0';

	for (; *s; s++) {
		if (*s == ' ')
			continue;
		if (unit != '\0')
			return -1; /* something after the unit */
		if (isdigit((unsigned char)*s)) {
			if (v > OFFSET_MAX_SECS)
				return -1;
			v = v * 10 + (*s - '0');
			ndig++;
		} else
			unit = *s;
	}
	switch (unit) {
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -1;
	}
	if (ndig == 0 || v > OFFSET_MAX_SECS / mult)
		return -1;
	*seconds = v * mult;
	return 0;
}

/*
 * Our durations (--overlap, --lag, --timeout): "<N>" seconds or "<N>s",
 * "<N>m", "<N>h", "<N>d". Returns 0, or -1 if s is not of that form.
 */
int
duration_parse(const char *s, int64_t *seconds)
{
	size_t n = strlen(s);
	int64_t v = 0, mult = 1;
	size_t i;

	if (n > 0 && strchr("smhd", s[n - 1]) != NULL) {
		mult = s[n - 1] == 's'	 ? 1
		       : s[n - 1] == 'm' ? 60
		       : s[n - 1] == 'h' ? 3600
					 : 86400;
		n--;
	}
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]) || v > OFFSET_MAX_SECS)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > OFFSET_MAX_SECS / mult)
		return -1;
	*seconds = v * mult;
	return 0;
}

/*
 * ISO 8601 dates with 0-7 fractional digits, "Z" or a numeric offset, and
 * the legacy forms Wazuh wrote ("2019-08-01 15:49:13.171231+00:00").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "date.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Read exactly n digits. */
static int
digits(const char **s, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**s))
			return -1;
		v = v * 10 + (**s - '0');
		(*s)++;
	}
	*out = v;
	return 0;
}

static int
month_days(int y, int m)
{
	static const int md[] = {31, 28, 31, 30, 31, 30,
				 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

/* Parse "Z", "+HH:MM", "+HHMM", "+HH" (or nothing: UTC). */
static int
parse_zone(const char *s, int64_t *secs)
{
	int sign, hh, mm = 0;

	*secs = 0;
	if (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return 0;
	if (strcmp(s, "UTC") == 0 || strcmp(s, "GMT") == 0)
		return 0;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (digits(&s, 2, &hh) == -1)
		return -1;
	if (*s == ':')
		s++;
	if (*s != '\0' && digits(&s, 2, &mm) == -1)
		return -1;
	if (*s != '\0' || hh > 23 || mm > 59)
		return -1;
	*secs = sign * (hh * 3600 + mm * 60);
	return 0;
}

/*
 * Parse a date into 100 ns ticks (UTC). Accepts YYYY-MM-DD, optionally
 * followed by "T" or " " and HH:MM[:SS[.fraction]] and a zone. Fractions
 * beyond 7 digits are truncated. Returns 0, or -1 if it is not a date.
 */
int
date_parse(const char *s, int64_t *ticks)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n;
	int64_t frac = 0, zone, t;

	if (s == NULL || digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mo) == -1 || *s++ != '-' || digits(&s, 2, &d) == -1)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
		return -1;
	if (*s == 'T' || *s == 't' ||
	    (*s == ' ' && isdigit((unsigned char)s[1]))) {
		s++;
		if (digits(&s, 2, &h) == -1 || *s++ != ':' ||
		    digits(&s, 2, &mi) == -1)
			return -1;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &sec) == -1)
				return -1;
			if (*s == '.' || *s == ',') {
				s++;
				if (!isdigit((unsigned char)*s))
					return -1;
				for (n = 0; isdigit((unsigned char)*s);
				     s++, n++)
					if (n < 7)
						frac = frac * 10 + (*s - '0');
				for (; n < 7; n++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			return -1;
	}
	if (parse_zone(s, &zone) == -1)
		return -1;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
	    mi * 60 + sec - zone;
	/* In UTC it must still be a year of four digits. */
	if (t < days_from_civil(1, 1, 1) * 86400 ||
	    t >= days_from_civil(10000, 1, 1) * 86400)
		return -1;
	*ticks = t * DATE_TICKS_PER_SEC + frac;
	return 0;
}

static void
date_format_prec(int64_t ticks, char out[DATE_STRLEN], int digits7)
{
	int64_t secs = ticks / DATE_TICKS_PER_SEC, frac;
	int64_t days, rem;
	unsigned m, d;
	char tmp[128];
	int y;

	frac = ticks % DATE_TICKS_PER_SEC;
	if (frac < 0) {
		frac += DATE_TICKS_PER_SEC;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (digits7)
		snprintf(tmp, sizeof(tmp),
			 "%04d-%02u-%02uT%02d:%02d:%02d.%07dZ", y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60),
			 (int)(rem % 60), (int)frac);
	else
		snprintf(tmp, sizeof(tmp),
			 "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60),
			 (int)(rem % 60), (int)(frac / 10));
	memcpy(out, tmp, DATE_STRLEN - 1);
	out[DATE_STRLEN - 1] = '\0';
}

/* Wazuh's canonical form, %Y-%m-%dT%H:%M:%S.%fZ (6 digits, truncated). */
void
date_format(int64_t ticks, char out[DATE_STRLEN])
{
	date_format_prec(ticks, out, 0);
}

/* Azure's form with 7 fractional digits. */
void
date_format_iso(int64_t ticks, char out[DATE_STRLEN])
{
	date_format_prec(ticks, out, 1);
}

int64_t
date_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Wazuh's clock has microseconds: keep 6 digits so a formatted
	 * "now" reads back as the same instant. */
	return (int64_t)ts.tv_sec * DATE_TICKS_PER_SEC + ts.tv_nsec / 1000 * 10;
}

/* Midnight UTC of the day holding ticks. */
int64_t
date_today(int64_t ticks)
{
	int64_t day = 86400 * DATE_TICKS_PER_SEC;
	int64_t r = ticks % day;

	return ticks - (r < 0 ? r + day : r);
}

/*
 * The form a checkpoint is kept in: Azure's own "...SS.ffffff[f]Z" strings
 * are kept as they are (7 digits keep their precision); any other valid
 * form ("2019-08-01 15:49:13.171231+00:00", "...56.98Z", no fraction) is
 * rewritten as %Y-%m-%dT%H:%M:%S.%fZ. Returns 0, or -1 if not a date.
 */
int
date_canonical(const char *s, char out[DATE_STRLEN])
{
	int64_t t;
	size_t n = strlen(s), nd;

	if (date_parse(s, &t) == -1)
		return -1;
	if (n >= 27 && n <= 28 && s[10] == 'T' && s[19] == '.' &&
	    s[n - 1] == 'Z') {
		nd = strspn(s + 20, "0123456789");
		if (nd == n - 21 && (nd == 6 || nd == 7)) {
			memcpy(out, s, n + 1);
			return 0;
		}
	}
	date_format(t, out);
	return 0;
}

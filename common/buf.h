/*
 * Growable byte buffers with a hard maximum (curl's dynbuf idea): every
 * buffer fed from the network or a pipe says how large it may become.
 */
#ifndef AZURE_BUF_H
#define AZURE_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* append fails with -1 beyond this */
};

void buf_init(struct buf *, size_t max);
int buf_append(struct buf *, const void *, size_t);
int buf_puts(struct buf *, const char *);
int buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *, size_t);
void buf_reset(struct buf *);
void buf_free(struct buf *);
/* NUL-terminates without counting the NUL; returns data or NULL. */
char *buf_cstr(struct buf *);

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
char *xstrdup(const char *);

#endif

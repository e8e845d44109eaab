/*
 * Small shared helpers: md5 keys, Wazuh time offsets, endpoint URLs and
 * descriptor I/O.
 */
#ifndef AZURE_UTIL_H
#define AZURE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define MD5_LEN	   16
#define MD5_HEXLEN 33

void md5_raw(const void *, size_t, uint8_t out[MD5_LEN]);
void md5_hex(const void *, size_t, char out[MD5_HEXLEN]);
int offset_parse(const char *, int64_t *seconds);
int duration_parse(const char *, int64_t *seconds);
int url_check_endpoint(const char *url, char *err, size_t errlen);
int write_all(int fd, const void *, size_t);
int set_nonblock(int fd);
void pipe_grow(int fd);

#endif

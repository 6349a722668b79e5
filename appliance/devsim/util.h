/* util: small helpers the simulator's modules share: clocks, a fast
 * non-cryptographic random generator (badge timing and card picks need
 * speed and reproducible statistics, not secrecy), and files written
 * atomically (a temporary name, then rename: a crash leaves the old or the
 * new file, never half of one; no fsync, as the simulator's state only
 * needs to survive the process, not a power cut). */
#ifndef GH_DEVSIM_UTIL_H
#define GH_DEVSIM_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
long long ds_mono_ms(void);
long long ds_wall_ms(void);

/* Seed the generator (from the system's randomness when seed is 0). */
void ds_rand_seed(uint64_t seed);
uint64_t ds_rand(void);
/* Uniform in [0, 1). */
double ds_rand_unit(void);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t ds_rand_below(uint64_t n);

/* Read a whole file (at most max bytes) into a NUL-terminated malloc'd
 * buffer; NULL with errno set (EFBIG when larger). */
char *ds_read_file(const char *path, size_t max, size_t *len);

/* Write path atomically with mode (0600 for keys). 0, or -1 with errno. */
int ds_write_file(const char *path, const void *data, size_t len, int mode);

/* snprintf that reports truncation: 0, or -1 when out was too small. */
int ds_path(char *out, size_t len, const char *dir, const char *name);

#endif

/* masterkey: the master key file. 32 random bytes, stored raw (or as 64 hex
 * digits, for a key typed back from paper), mode 0600 in a 0700 directory.
 * Used only by the vault. */
#ifndef GH_MASTERKEY_H
#define GH_MASTERKEY_H

#include <stddef.h>

#define MASTERKEY_BYTES 32

/* Read a key file into key. Refuses a file that group or others may read,
 * and anything that is not exactly one key. Returns 0, 1 if the file does
 * not exist, or -1 with the reason in err. */
int masterkey_read(const char *path, unsigned char key[MASTERKEY_BYTES], char *err, size_t errlen);

/* Create a new random key file (fails if it exists). */
int masterkey_create(const char *path, unsigned char key[MASTERKEY_BYTES], char *err, size_t errlen);

/* Write key to path atomically (replacing it), mode 0600. */
int masterkey_write(const char *path, const unsigned char key[MASTERKEY_BYTES], char *err,
		    size_t errlen);

#endif

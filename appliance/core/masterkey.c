#include "masterkey.h"

#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int masterkey_read(const char *path, unsigned char key[MASTERKEY_BYTES], char *err, size_t errlen)
{
	unsigned char buf[130];
	struct stat st;
	ssize_t n;
	size_t len, binlen;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "cannot read master key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "master key %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "master key %s is accessible to other users (mode %04o): run 'chmod 600 %s' "
			 "and check who may have copied it",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read master key %s: %s", path, strerror(errno));
		return -1;
	}
	len = (size_t)n;
	if (len == MASTERKEY_BYTES) {
		memcpy(key, buf, MASTERKEY_BYTES);
		sodium_memzero(buf, sizeof buf);
		return 0;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 2 * MASTERKEY_BYTES &&
	    sodium_hex2bin(key, MASTERKEY_BYTES, (const char *)buf, len, NULL, &binlen, NULL) == 0 &&
	    binlen == MASTERKEY_BYTES) {
		sodium_memzero(buf, sizeof buf);
		return 0;
	}
	sodium_memzero(buf, sizeof buf);
	snprintf(err, errlen, "master key %s must hold 32 bytes (or 64 hex digits); it holds %zd bytes",
		 path, n);
	return -1;
}

int masterkey_write(const char *path, const unsigned char key[MASTERKEY_BYTES], char *err,
		    size_t errlen)
{
	return state_write_file(path, key, MASTERKEY_BYTES, 0600, err, errlen);
}

int masterkey_create(const char *path, unsigned char key[MASTERKEY_BYTES], char *err, size_t errlen)
{
	if (access(path, F_OK) == 0) {
		snprintf(err, errlen, "master key %s already exists", path);
		return -1;
	}
	randombytes_buf(key, MASTERKEY_BYTES);
	return masterkey_write(path, key, err, errlen);
}

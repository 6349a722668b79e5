#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[4096];
static int lock_fd = -1;

static int ensure_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %u, not by this user (uid %u): refusing to keep keys there",
			 dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((st.st_mode & 0077) != 0 && chmod(dir, 0700) < 0) {
		snprintf(err, errlen, "cannot restrict %s to mode 0700: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int state_open(const char *dir, char *err, size_t errlen)
{
	if (strlen(dir) >= sizeof root - 64) {
		snprintf(err, errlen, "state directory path too long");
		return -1;
	}
	if (ensure_dir(dir, err, errlen) < 0)
		return -1;
	snprintf(root, sizeof root, "%s", dir);
	return 0;
}

int state_mkdir(const char *rel, char *err, size_t errlen)
{
	char p[4096];

	return ensure_dir(state_path(rel, p, sizeof p), err, errlen);
}

const char *state_path(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", root, rel);
	return buf;
}

const char *state_dir(void) { return root; }

int state_lock_serve(char *err, size_t errlen)
{
	char p[4096];

	lock_fd = open(state_path("serve.lock", p, sizeof p), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", p, strerror(errno));
		return -1;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "another 'gatehouse serve' is running on %s", root);
		close(lock_fd);
		lock_fd = -1;
		return -1;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char copy[4096];
	int fd, rc;

	snprintf(copy, sizeof copy, "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int state_write_file(const char *path, const void *data, size_t len, int mode, char *err,
		     size_t errlen)
{
	char tmp[4096];
	const unsigned char *p = data;
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (fsync_dir_of(path) < 0) {
		snprintf(err, errlen, "cannot sync directory of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

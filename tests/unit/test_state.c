#include "t.h"

#include "core/state.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(state_creates_private_directory)
{
	char dir[300], err[256] = "";
	struct stat st;

	snprintf(dir, sizeof dir, "%s/state", t_tmpdir());
	CHECK_INT(state_open(dir, err, sizeof err), 0);
	CHECK_INT(stat(dir, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0700);
	/* A loose existing directory is tightened. */
	chmod(dir, 0755);
	CHECK_INT(state_open(dir, err, sizeof err), 0);
	CHECK_INT(stat(dir, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0700);
	CHECK_INT(state_mkdir("keys", err, sizeof err), 0);
}

TEST(state_refuses_a_file)
{
	char path[300], err[256] = "";
	FILE *f;

	snprintf(path, sizeof path, "%s/file", t_tmpdir());
	f = fopen(path, "w");
	fclose(f);
	CHECK_INT(state_open(path, err, sizeof err), -1);
	CHECK_CONTAINS(err, "is not a directory");
}

TEST(state_write_file_is_atomic_and_private)
{
	char path[300], tmp[320], err[256] = "", buf[32] = "";
	struct stat st;
	FILE *f;

	snprintf(path, sizeof path, "%s/secret", t_tmpdir());
	CHECK_INT(state_write_file(path, "first", 5, 0600, err, sizeof err), 0);
	CHECK_INT(state_write_file(path, "second", 6, 0600, err, sizeof err), 0);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		CHECK(fgets(buf, sizeof buf, f) != NULL);
		fclose(f);
	}
	CHECK_STR(buf, "second");
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	CHECK(access(tmp, F_OK) != 0);
	CHECK_INT(state_write_file("/nonexistent/dir/x", "a", 1, 0600, err, sizeof err), -1);
	CHECK_CONTAINS(err, "cannot create /nonexistent/dir/x.tmp");
}

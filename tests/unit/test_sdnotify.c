#include "t.h"

#include "core/sdnotify.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int bind_dgram(const char *path, int abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t len;

	strcpy(sa.sun_path, path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (abstract)
		sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(sdnotify_sends_datagrams)
{
	char path[200], buf[64];
	int fd;
	ssize_t n;

	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(sdnotify("READY=1"), 0);

	snprintf(path, sizeof path, "%s/notify", t_tmpdir());
	fd = bind_dgram(path, 0);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_INT(sdnotify("READY=1"), 1);
	n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	CHECK_INT(n, 7);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STR(buf, "READY=1");
	close(fd);

	fd = bind_dgram("@gatehouse-unit-notify", 1);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", "@gatehouse-unit-notify", 1);
	CHECK_INT(sdnotify("STOPPING=1"), 1);
	n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	CHECK_INT(n, 10);
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(sdnotify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

TEST(sdnotify_watchdog_interval)
{
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	CHECK_INT(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "20000000", 1);
	CHECK_INT(sdnotify_watchdog_usec(), 20000000);
	snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_INT(sdnotify_watchdog_usec(), 0);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_INT(sdnotify_watchdog_usec(), 20000000);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

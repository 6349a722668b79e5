#include "t.h"

#include "web/gate.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int released_fds[16], nreleased;

static void release(void *owner, void *item)
{
	pthread_mutex_lock(&mu);
	if (nreleased < 16)
		released_fds[nreleased++] = *(int *)item;
	pthread_mutex_unlock(&mu);
	CHECK(owner == (void *)&mu);
}

static int released(void)
{
	pthread_mutex_lock(&mu);
	int n = nreleased;
	pthread_mutex_unlock(&mu);
	return n;
}

static void wait_until(int (*cond)(void), int want, int ms)
{
	for (int i = 0; i < ms / 10 && cond() < want; i++)
		usleep(10000);
}

static struct gate_stats stats_now(void)
{
	struct gate_stats s;
	gate_get_stats(&s);
	return s;
}

static int expired(void) { return (int)stats_now().expired; }
static int closed_early(void) { return (int)stats_now().closed_early; }

/* Is our end of the pair closed by the gate? */
static int peer_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	return poll(&p, 1, 1000) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

TEST(gate_releases_talkers_and_expires_silent)
{
	int talker[2], silent[2], quitter[2];

	nreleased = 0;
	CHECK_INT(gate_start(300, 100, release), 0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, talker);
	socketpair(AF_UNIX, SOCK_STREAM, 0, silent);
	socketpair(AF_UNIX, SOCK_STREAM, 0, quitter);
	CHECK_INT(gh_gate_admit(&mu, talker[0], &talker[0], sizeof(int)), 1);
	CHECK_INT(gh_gate_admit(&mu, silent[0], &silent[0], sizeof(int)), 1);
	CHECK_INT(gh_gate_admit(&mu, quitter[0], &quitter[0], sizeof(int)), 1);
	CHECK_INT(stats_now().pending, 3);

	CHECK_INT(write(talker[1], "x", 1), 1);
	wait_until(released, 1, 1000);
	CHECK_INT(released(), 1);
	CHECK_INT(released_fds[0], talker[0]);

	close(quitter[1]);
	wait_until(closed_early, 1, 1000);
	CHECK_INT(stats_now().closed_early, 1);

	/* The silent one is closed by the gate once its deadline passes. */
	CHECK(peer_closed(silent[1]));
	CHECK_INT(stats_now().expired, 1);
	CHECK_INT(stats_now().pending, 0);
	CHECK_INT(released(), 1);
	gate_stop();
	close(talker[0]);
	close(talker[1]);
	close(silent[1]);
}

TEST(gate_refuses_beyond_max_pending_and_stops_cleanly)
{
	int pairs[5][2];

	CHECK_INT(gate_start(10000, 3, release), 0);
	for (int i = 0; i < 5; i++) {
		socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]);
		CHECK_INT(gh_gate_admit(&mu, pairs[i][0], &pairs[i][0], sizeof(int)), 1);
	}
	CHECK_INT(stats_now().pending, 3);
	CHECK_INT(stats_now().refused, 2);
	CHECK(peer_closed(pairs[3][1]));
	CHECK(peer_closed(pairs[4][1]));
	gate_stop();
	/* Stopping closes what was still waiting. */
	for (int i = 0; i < 3; i++)
		CHECK(peer_closed(pairs[i][1]));
	for (int i = 0; i < 5; i++)
		close(pairs[i][1]);
	/* A stopped gate hands sockets back to the caller. */
	CHECK_INT(gh_gate_admit(&mu, 0, "", 1), 0);
	(void)expired;
}

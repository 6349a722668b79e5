#include "gate.h"

#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct entry {
	struct entry *prev, *next; /* in admission order = deadline order */
	int fd;
	void *owner;
	long long deadline_ms;
	size_t size;
	unsigned char item[];
};

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	int running;
	int epfd, wakefd;
	long long timeout_ms;
	unsigned max_pending;
	gate_release_fn release;
	struct entry *head, *tail;
	struct gate_stats stats;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .wakefd = -1};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unlink_entry(struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		g.head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		g.tail = e->prev;
	g.stats.pending--;
}

int gh_gate_admit(void *owner, int fd, const void *item, size_t size)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT};
	struct entry *e;

	pthread_mutex_lock(&g.lock);
	if (!g.running) {
		pthread_mutex_unlock(&g.lock);
		return 0;
	}
	if (g.stats.pending >= g.max_pending || !(e = malloc(sizeof *e + size))) {
		g.stats.refused++;
		pthread_mutex_unlock(&g.lock);
		close(fd);
		return 1;
	}
	e->fd = fd;
	e->owner = owner;
	e->deadline_ms = now_ms() + g.timeout_ms;
	e->size = size;
	memcpy(e->item, item, size);
	ev.data.ptr = e;
	if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		g.stats.refused++;
		pthread_mutex_unlock(&g.lock);
		free(e);
		close(fd);
		return 1;
	}
	e->next = NULL;
	e->prev = g.tail;
	if (g.tail)
		g.tail->next = e;
	else
		g.head = e;
	g.tail = e;
	g.stats.pending++;
	g.stats.admitted++;
	pthread_mutex_unlock(&g.lock);
	return 1;
}

/* Close every connection whose deadline has passed; returns ms until the next
 * deadline (capped at one second). Called with the lock held. */
static int expire(void)
{
	long long now = now_ms();

	while (g.head && g.head->deadline_ms <= now) {
		struct entry *e = g.head;
		unlink_entry(e);
		epoll_ctl(g.epfd, EPOLL_CTL_DEL, e->fd, NULL);
		close(e->fd);
		free(e);
		g.stats.expired++;
	}
	if (!g.head)
		return 1000;
	return (int)(g.head->deadline_ms - now < 1000 ? g.head->deadline_ms - now : 1000);
}

/* A peer that connected and hung up shows as readable too (end of file):
 * only a connection with bytes waiting is worth a worker thread. */
static int has_data(int fd, uint32_t events)
{
	char c;

	if (!(events & EPOLLIN))
		return 0;
	if (!(events & (EPOLLRDHUP | EPOLLHUP)))
		return 1;
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static void *gate_thread(void *arg)
{
	struct epoll_event evs[64];

	(void)arg;
	for (;;) {
		int timeout, n;

		pthread_mutex_lock(&g.lock);
		timeout = expire();
		pthread_mutex_unlock(&g.lock);

		n = epoll_wait(g.epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			log_err("gate: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct entry *e = evs[i].data.ptr;

			if (!e) /* the wake-up eventfd: gate_stop() */
				return NULL;
			pthread_mutex_lock(&g.lock);
			unlink_entry(e);
			epoll_ctl(g.epfd, EPOLL_CTL_DEL, e->fd, NULL);
			if (has_data(e->fd, evs[i].events)) {
				g.stats.released++;
				pthread_mutex_unlock(&g.lock);
				/* Outside the lock: the server may block until a worker is free. */
				g.release(e->owner, e->item);
			} else {
				/* Hung up or failed without sending anything. */
				g.stats.closed_early++;
				pthread_mutex_unlock(&g.lock);
				close(e->fd);
			}
			free(e);
		}
	}
	return NULL;
}

int gate_start(long long timeout_ms, unsigned max_pending, gate_release_fn release)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	g.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g.epfd < 0 || g.wakefd < 0 || epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.wakefd, &ev) < 0) {
		log_err("gate: cannot set up epoll: %s", strerror(errno));
		return -1;
	}
	g.timeout_ms = timeout_ms;
	g.max_pending = max_pending;
	g.release = release;
	memset(&g.stats, 0, sizeof g.stats);
	if (pthread_create(&g.thread, NULL, gate_thread, NULL) != 0) {
		log_err("gate: cannot start thread");
		return -1;
	}
	pthread_mutex_lock(&g.lock);
	g.running = 1;
	pthread_mutex_unlock(&g.lock);
	return 0;
}

void gate_stop(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&g.lock);
	if (!g.running) {
		pthread_mutex_unlock(&g.lock);
		return;
	}
	g.running = 0;
	pthread_mutex_unlock(&g.lock);
	(void)!write(g.wakefd, &one, sizeof one);
	pthread_join(g.thread, NULL);
	while (g.head) {
		struct entry *e = g.head;
		unlink_entry(e);
		close(e->fd);
		free(e);
	}
	close(g.epfd);
	close(g.wakefd);
	g.epfd = g.wakefd = -1;
}

void gate_get_stats(struct gate_stats *out)
{
	pthread_mutex_lock(&g.lock);
	*out = g.stats;
	pthread_mutex_unlock(&g.lock);
}

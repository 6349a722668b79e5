#include "queue.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	size_t n;
	int wake;
} jq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0};

static struct {
	pthread_mutex_t mu;
	struct result *head, *tail;
	int fd;
} rq = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, -1};

struct job *job_new(enum job_kind kind, uint64_t conn, int64_t device, int64_t tenant, const char *uid,
		    uint16_t packet_id, const void *payload, size_t len)
{
	struct job *j = malloc(sizeof *j + len + 1);

	if (!j)
		return NULL;
	memset(j, 0, sizeof *j);
	j->kind = kind;
	j->conn = conn;
	j->device_id = device;
	j->tenant = tenant;
	snprintf(j->uid, sizeof j->uid, "%s", uid);
	j->packet_id = packet_id;
	j->len = len;
	if (len)
		memcpy(j->payload, payload, len);
	j->payload[len] = '\0';
	return j;
}

struct result *result_new(enum result_kind kind, uint64_t conn, const void *data, size_t len)
{
	struct result *r = malloc(sizeof *r + len + 1);

	if (!r)
		return NULL;
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->conn = conn;
	r->len = len;
	if (len)
		memcpy(r->data, data, len);
	r->data[len] = '\0';
	return r;
}

void jobs_push(struct job *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&jq.mu);
	j->next = NULL;
	if (jq.tail)
		jq.tail->next = j;
	else
		jq.head = j;
	jq.tail = j;
	jq.n++;
	pthread_cond_signal(&jq.cv);
	pthread_mutex_unlock(&jq.mu);
}

struct job *jobs_take_all(int timeout_ms)
{
	struct job *all;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&jq.mu);
	while (!jq.head && !jq.wake)
		if (pthread_cond_timedwait(&jq.cv, &jq.mu, &until) != 0)
			break;
	jq.wake = 0;
	all = jq.head;
	jq.head = jq.tail = NULL;
	jq.n = 0;
	pthread_mutex_unlock(&jq.mu);
	return all;
}

size_t jobs_waiting(void)
{
	size_t n;

	pthread_mutex_lock(&jq.mu);
	n = jq.n;
	pthread_mutex_unlock(&jq.mu);
	return n;
}

void jobs_wake(void)
{
	pthread_mutex_lock(&jq.mu);
	jq.wake = 1;
	pthread_cond_signal(&jq.cv);
	pthread_mutex_unlock(&jq.mu);
}

void results_set_wakefd(int fd)
{
	pthread_mutex_lock(&rq.mu);
	rq.fd = fd;
	pthread_mutex_unlock(&rq.mu);
}

void results_push(struct result *r)
{
	uint64_t one = 1;
	int fd;

	if (!r)
		return;
	pthread_mutex_lock(&rq.mu);
	r->next = NULL;
	if (rq.tail)
		rq.tail->next = r;
	else
		rq.head = r;
	rq.tail = r;
	fd = rq.fd;
	pthread_mutex_unlock(&rq.mu);
	if (fd >= 0)
		(void)!write(fd, &one, sizeof one);
}

struct result *results_take_all(void)
{
	struct result *all;

	pthread_mutex_lock(&rq.mu);
	all = rq.head;
	rq.head = rq.tail = NULL;
	pthread_mutex_unlock(&rq.mu);
	return all;
}

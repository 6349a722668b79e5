/* snapshot: a consistent copy of the database and its key store, taken
 * while the service keeps serving.
 *
 * gatehouse.db and keystore.db are two files, and a transaction that spans
 * both is not atomic across them in WAL mode. So the snapshot takes the
 * write lock for an instant (no writer can commit), opens a read
 * transaction on both files from a second connection, and lets the write
 * lock go: that connection now sees one moment of both files, for as long
 * as the copy takes, while writers carry on in the WAL. From it:
 *   full:   the SQLite backup API copies both files whole;
 *   events: the backup API copies the key store; the append-heavy tables
 *           (SNAPSHOT_EVENT_TABLES) are copied row by row into a new
 *           database, in the same read transaction.
 * Row counts of every copied table are taken in the same transaction: the
 * source figures a verification compares the backup with. */
#ifndef GH_SNAPSHOT_H
#define GH_SNAPSHOT_H

#include "bfile.h"

#define SNAPSHOT_EVENT_TABLES "events", "audit_log", "audit_anchors", "alerts", "job_runs"

struct snapshot {
	int ndb;
	char name[2][32];       /* "gatehouse.db" or "events.db", then "keystore.db" */
	char path[2][4200];     /* the copies, in the work directory */
	uint64_t size[2];
	struct bfile_counts counts;
	/* The recovery public key in the copied key store: the backup's file
	 * key is sealed to this one, so a key rotated during the copy cannot
	 * leave a file whose header and escrow wraps name different keys. */
	unsigned char recovery_pk[32];
	int has_recovery_pk;
};

struct snapshot_hooks {
	int (*stop)(void *arg);  /* nonzero: give up at the next step */
	void *arg;
};

/* Copy into workdir. 0, 1 when stopped, -1 with err. */
int snapshot_take(int kind, const char *workdir, const struct snapshot_hooks *hooks, struct snapshot *s, char *err,
		  size_t errlen);

/* Count the rows of every table of one database file (the counts of
 * manifest database index db), for comparison with a backup's final
 * record. Also runs PRAGMA integrity_check first. 0, or -1 with err. */
int snapshot_check_file(const char *path, int db, struct bfile_counts *out, char *err, size_t errlen);

#endif

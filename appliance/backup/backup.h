/* backup: making, checking, listing and pruning backup files (the format is
 * bfile.h; what the vault does for them is core/vault_escrow.h; restoring
 * is restore.h). docs/backup.md is the admin's and auditor's account.
 *
 * Making one (backup_make): snapshot (snapshot.h), then the file is written
 * in STATE/backups under ".partial-<name>", fsynced, read back from the
 * disk and verified (decrypt, inflate, PRAGMA integrity_check, row counts
 * against the snapshot's), then renamed to its name and the directory
 * fsynced. Only then is it copied to each extra destination the same way
 * (temporary name, fsync, read back and compared, rename). A failure at any
 * step leaves no file under a backup's name, raises a "backup.failed" alert
 * naming the destination and the reason, and makes the run fail; a missing
 * or full destination is such a failure, never a silent skip.
 *
 * Names: gatehouse-<appliance id>-<full|events>-<YYYYMMDDTHHMMSSZ>[-N].ghb;
 * a file counts only under such a name. */
#ifndef GH_BACKUP_H
#define GH_BACKUP_H

#include "bfile.h"
#include "core/vault_escrow.h"

#include <stddef.h>
#include <stdint.h>

#define BACKUP_MAX_DESTS 16
#define BACKUP_NAME_MAX 96

struct backup_hooks {
	int (*stop)(void *arg);                  /* nonzero: stop at the next safe point */
	void (*progress)(void *arg, double fraction);
	void *arg;
};

struct backup_report {
	char name[BACKUP_NAME_MAX];
	int kind;
	uint64_t bytes, raw_bytes;
	long long rows;
	int destinations, failed, pruned;
	long long snapshot_ms, write_ms, verify_ms;
};

/* Make a backup. 0 done everywhere; 1 stopped (nothing left behind); -1
 * failed somewhere (err says where and why; alerts raised). The database
 * must be open with the vault (a job thread or the command line). */
int backup_make(int kind, const struct backup_hooks *hooks, struct backup_report *rep, char *err, size_t errlen);

/* A destination directory: STATE/backups first, then backup.destinations. */
int backup_destinations(char dirs[][4096], int max, char *err, size_t errlen);

/* "gatehouse-<id>-<kind>-<time>[-N].ghb"? Fills what it names. */
int backup_name_parse(const char *name, char id[33], int *kind, int64_t *created);

struct backup_entry {
	char dir[4096];
	char name[BACKUP_NAME_MAX];
	int kind;
	int64_t created_at;
	uint64_t size, raw_size;
	int ok;                 /* header authenticated and the file whole */
	char problem[200];      /* why not */
	long long erased_since; /* people erased since it was made */
};

/* This appliance's backups in every destination, newest first (*list
 * malloc'd). Each is checked cheaply: its header authenticated (the first
 * record) and its trailer in place. 0, or -1 with err. */
int backup_list(struct backup_entry **list, size_t *n, char *err, size_t errlen);

/* The path of a backup of this appliance by its name (first destination
 * that has it). 0, or -1 (bad name or none). */
int backup_find(const char *name, char *path, size_t len);

/* Which key opens a file, and a working directory for the check. */
struct backup_open {
	const struct vault_unlock *unlock; /* NULL: the loaded master key */
	const char *workdir;               /* NULL: a new one under STATE/backups/.work */
	int (*stop)(void *arg);            /* optional: give up (shutdown) */
	void *arg;
};

struct backup_check {
	struct bfile_header h;
	struct bfile_manifest m;
	struct bfile_counts counts;
	char appliance[33];
	long long erased_since;            /* -1 when unknown (no live ledger) */
	uint64_t size;
};

/* The file key of a header: with unlock (or the loaded master key), after
 * checking that the header names that key. 0, or -1 with err. */
int backup_file_key(const struct bfile_header *h, const unsigned char raw[BFILE_HEADER_BYTES],
		    const struct vault_unlock *unlock, unsigned char key[32], char *err, size_t errlen);

/* Verify a file completely: every record, every database inflated into a
 * working directory, PRAGMA integrity_check, row counts against the final
 * record. 0, or -1 with the reason. */
int backup_verify(const char *path, const struct backup_open *o, struct backup_check *c, char *err, size_t errlen);

/* Read a file into dir (which exists): dir/<database name> for each
 * database of the backup, checked as backup_verify checks. 0 or -1. */
int backup_extract(const char *path, const struct vault_unlock *unlock, const char *dir, struct backup_check *c,
		   char *err, size_t errlen);

/* Delete backups older than retention_s in one destination, never the
 * newest complete one of each kind. Returns the number deleted, or -1. */
int backup_prune(const char *dir, long long retention_s, char *err, size_t errlen);

/* Remove a directory made by a backup and its files (flat). */
void backup_rmdir(const char *dir);

/* A fresh private working directory under STATE/backups/.work. */
int backup_workdir(const char *purpose, char *out, size_t len, char *err, size_t errlen);

#endif

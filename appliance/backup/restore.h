/* restore: a full backup into a new state directory, or an events backup
 * merged into one restored from a full backup. See docs/backup.md.
 *
 * Full (restore_full): the file is read and checked completely (as
 * backup_verify does) into a hidden directory beside DIR, the key store is
 * made to open with DIR's master key (the same master key, or, restoring
 * with the recovery key, a new one: every tenant key is re-wrapped from its
 * escrow copy), the erasure ledgers given are replayed (people erased since
 * the backup was made are erased again and their keys shredded), and only
 * then is the directory renamed to DIR. DIR must not exist or be empty:
 * nothing is ever overwritten. The service is then pointed at DIR.
 *
 * Events (restore_events): merges the rows of an events backup into DIR by
 * primary key, never overwriting a row; refuses when DIR belongs to another
 * appliance, has another schema version, or has audit entries the events
 * backup does not (the service ran on DIR: merge before starting it). */
#ifndef GH_RESTORE_H
#define GH_RESTORE_H

#include "backup.h"

struct restore_opts {
	const char *file;
	const char *dir;                       /* --to (full) or --into (events) */
	const struct vault_unlock *unlock;     /* the appliance's master key, or the recovery secret */
	const struct vault_erasure *ledger;    /* erasures to replay besides the backup's own */
	size_t nledger;
};

struct restore_report {
	struct backup_check c;
	int keys_rewrapped;     /* recovery restore: tenant keys re-wrapped under the new master key */
	int erasures_applied;   /* people erased again */
	long long rows_merged;  /* events merge */
	int keys_merged;
};

int restore_full(const struct restore_opts *o, struct restore_report *r, char *err, size_t errlen);
int restore_events(const struct restore_opts *o, struct restore_report *r, char *err, size_t errlen);

/* The header of a backup file (to see its kind and appliance first). */
int restore_peek(const char *file, struct bfile_header *h, char *err, size_t errlen);

/* At the first start of the service on a restored state directory: the
 * restore is recorded in the audit log (not before, so that an events
 * backup can still be merged into it). Call with the store open. */
void restore_note_flush(void);

#endif

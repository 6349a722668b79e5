/* vault_rotate: online rotation of tenant data keys, and moving to a new
 * master key.
 *
 * A rotation creates a new data key version, which every new seal uses at
 * once; then, in short batches that each commit, it re-wraps the tenant's
 * person keys and re-seals the tenant-sealed columns listed in
 * sealed_columns under the new key; finally, when nothing refers to the old
 * version any more, the old key is retired (its wrapped bytes deleted). The
 * service keeps serving reads and writes throughout. Progress is stored in
 * ks.rotations, so a rotation killed half-way resumes where it stopped.
 * A retired version whose key is still used by archived values (the audit
 * log's, which are hash-chained and so never re-sealed) keeps its wrapped
 * bytes until those values are deleted by retention. */
#ifndef GH_VAULT_ROTATE_H
#define GH_VAULT_ROTATE_H

#include <stddef.h>
#include <stdint.h>

struct vault_rotation_status {
	int64_t tenant;
	int64_t active_version;
	int in_progress;
	int retiring_versions;
	int retired_versions;
	long long person_keys, person_keys_pending, fields_pending;
	long long person_keys_done, fields_done; /* of the rotation in progress */
};

typedef void (*vault_progress_fn)(const struct vault_rotation_status *st, void *arg);

/* Start a rotation of tenant's data key, or find the one in progress
 * (*resumed = 1). */
int vault_rotate_begin(int64_t tenant, int *resumed, char *err, size_t errlen);

/* Work through the rotation in batches of `batch` rows until it is done.
 * Calls progress after each batch with the done counters filled in (the
 * pending counts need a scan: see vault_rotation_status). Returns 0, or -1
 * with err. */
int vault_rotate_run(int64_t tenant, int batch, vault_progress_fn progress, void *arg, char *err,
		     size_t errlen);

int vault_rotation_status(int64_t tenant, struct vault_rotation_status *st);

/* Every key scope: 0 (the appliance) and each tenant id, ascending.
 * Returns the count (at most max), or -1. */
int vault_scopes(int64_t *ids, int max);

/* Destroy the bytes of retired data keys that no archived value (a column
 * registered as 'archive' in sealed_columns: the audit log) uses any more.
 * Rotation calls it when it finishes; retention calls it after deleting old
 * archived values. Inside the caller's transaction. Returns the count, or -1. */
int vault_purge_retired(int64_t tenant);

/* Re-wrap every tenant key from old_mk to new_mk and replace the check
 * value, in one transaction. Field ciphertexts are not touched. */
int vault_rewrap_master(const unsigned char old_mk[32], const unsigned char new_mk[32], char *err,
			size_t errlen);

#endif

/* settings: the configuration keys a system admin may change from the
 * console or the API while the appliance runs (the login policy, job
 * schedules, retention, alert thresholds, e-mail and webhooks), kept in the
 * database and laid over the configuration file.
 *
 * Order of precedence: built-in default < the file < a change made here <
 * --set on the command line. A key set with --set cannot be changed here
 * (the next start would undo it); keys not in the list below (listeners,
 * paths, files holding secrets, limits read once at start) change only in
 * the file. A change applies at once in this process and at the next start
 * of any other (the command line reads it when it opens the store). */
#ifndef GH_SETTINGS_H
#define GH_SETTINGS_H

#include "core/config.h"

#include <cJSON.h>

/* 1 if the console may change k now; 0 with the reason in *why. */
int settings_editable(enum config_key k, const char **why);

/* After the database opens: remember the file's values and apply the
 * stored changes. A stored value this version refuses (its bounds moved)
 * is logged and skipped. 0 or -1 (database). */
int settings_load(char *err, size_t errlen);

/* Change k to value (the file's syntax): checked, stored, applied. The
 * caller audits. 0; -1 with the reason in why (a bad value); -2 not
 * editable (why set); -3 database. */
int settings_put(enum config_key k, const char *value, const char *actor, char *why, size_t whylen);

/* Undo a change: back to the file's (or the default) value. 0 (also when
 * there was none), -2 not editable, -3 database. */
int settings_reset(enum config_key k, char *why, size_t whylen);

/* {source: "default"|"file"|"console"|"command line", editable, and for a
 * console change changed_by, changed_at and changed_by_username} added to o. */
void settings_describe(enum config_key k, cJSON *o);

#endif

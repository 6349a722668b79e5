/* notify: an alert turned into an e-mail or a webhook call, with the
 * channels' settings from the configuration and their secrets from files.
 * Used by the alerts-deliver job (jobs/alert_deliver.c) and by the
 * console's "send a test" button (POST /api/v1/alerts/test). */
#ifndef GH_NOTIFY_H
#define GH_NOTIFY_H

#include <cJSON.h>
#include <stddef.h>

/* At start: the channels' settings hang together (addresses, URLs, the
 * secret files exist with mode 0600 or stricter). 0, or -1 with why. */
int notify_check_config(char *err, size_t errlen);

/* Send one notice ("raised" or "resolved") of an alert (alert_json_by_id)
 * on a channel: "email" (target: the recipients) or "webhook:N" (target:
 * the URL). delivery names it for receivers ("X-Gatehouse-Delivery").
 * 0, or -1 with the reason in err. */
int notify_send(const cJSON *alert, const char *notice, const char *channel, const char *target,
		const char *delivery, char *err, size_t errlen);

/* The mail subject and body of a notice (malloc'd; free both). */
int notify_mail_text(const cJSON *alert, const char *notice, char **subject, char **body);
/* The webhook body of a notice (malloc'd JSON text). */
char *notify_webhook_body(const cJSON *alert, const char *notice);

/* The first line of a secret file whose mode allows no group or other
 * access. 0, or -1 with why (never the content). */
int notify_read_secret(const char *path, const char *key, char *out, size_t outlen, char *err, size_t errlen);

#endif

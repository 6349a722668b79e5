/* /api/v1/backups: the backup files in every destination, downloading one,
 * verifying one now. System admins only; downloads and verifications are
 * audited. Making a backup by hand is POST /api/v1/jobs/backup-full/run. */
#include "api.h"

#include "core/isotime.h"

#include "backup/backup.h"
#include "web/http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void api_backups_list(struct http_req *req)
{
	struct backup_entry *list;
	cJSON *items;
	char err[400];
	size_t n;

	if (backup_list(&list, &n, err, sizeof err) < 0)
		return http_error(req, 503, "unavailable", "cannot list backups: %s", err);
	items = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", list[i].name);
		cJSON_AddStringToObject(o, "destination", list[i].dir);
		cJSON_AddStringToObject(o, "kind", bfile_kind_name(list[i].kind));
		json_add_utc(o, "created_at", list[i].created_at);
		cJSON_AddNumberToObject(o, "size", (double)list[i].size);
		cJSON_AddNumberToObject(o, "database_size", (double)list[i].raw_size);
		cJSON_AddBoolToObject(o, "verified", list[i].ok);
		if (list[i].ok)
			cJSON_AddNullToObject(o, "problem");
		else
			cJSON_AddStringToObject(o, "problem", list[i].problem);
		cJSON_AddNumberToObject(o, "erased_since", (double)(list[i].erased_since < 0 ? 0 : list[i].erased_since));
		cJSON_AddItemToArray(items, o);
	}
	free(list);
	api_reply_page(req, items, 0);
}

static int find(struct http_req *req, char *path, size_t len)
{
	if (backup_find(req->match.params[0], path, len) < 0) {
		http_error(req, 404, "not_found", "no backup of this appliance named '%s'", req->match.params[0]);
		return -1;
	}
	return 0;
}

void api_backups_download(struct http_req *req)
{
	char path[4400], disp[160];
	unsigned char *buf;
	ssize_t n;
	int fd;

	if (find(req, path, sizeof path) < 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	buf = malloc(1 << 16);
	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return http_error(req, 503, "unavailable", "cannot read the backup: %s", strerror(errno));
	}
	/* Audited before the bytes go: a download cut short was still asked for. */
	api_audit(req, "backup.download", req->match.params[0], "ok", NULL);
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", req->match.params[0]);
	const char *hdr[] = {"Content-Disposition", disp, NULL};
	if (http_stream_begin(req, 200, "application/octet-stream", hdr) == 0) {
		while ((n = read(fd, buf, 1 << 16)) > 0)
			if (http_stream_write(req, buf, (size_t)n) < 0)
				break;
		http_stream_end(req);
	}
	close(fd);
	free(buf);
}

void api_backups_verify(struct http_req *req)
{
	struct backup_check *c;
	char path[4400], err[600];
	long long rows = 0;
	cJSON *doc, *d;
	int rc;

	if (find(req, path, sizeof path) < 0)
		return;
	if (!(c = malloc(sizeof *c)))
		return http_error(req, 503, "unavailable", "out of memory");
	rc = backup_verify(path, NULL, c, err, sizeof err);
	doc = cJSON_CreateObject();
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "name", req->match.params[0]);
	cJSON_AddBoolToObject(doc, "ok", rc == 0);
	if (rc == 0) {
		for (int i = 0; i < c->counts.n; i++)
			rows += c->counts.item[i].rows;
		cJSON_AddNullToObject(doc, "error");
		cJSON_AddStringToObject(doc, "kind", bfile_kind_name(c->h.kind));
		json_add_utc(doc, "created_at", c->h.created_at);
		cJSON_AddStringToObject(doc, "appliance_id", c->appliance);
		cJSON_AddNumberToObject(doc, "schema_version", c->h.schema_version);
		cJSON_AddNumberToObject(doc, "tables", c->counts.n);
		cJSON_AddNumberToObject(doc, "rows", (double)rows);
		cJSON_AddNumberToObject(doc, "erased_since", (double)(c->erased_since < 0 ? 0 : c->erased_since));
	} else {
		cJSON_AddStringToObject(doc, "error", err);
		cJSON_AddStringToObject(d, "error", err);
	}
	api_audit(req, "backup.verify", req->match.params[0], rc == 0 ? "ok" : "failed", d);
	cJSON_Delete(d);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
	free(c);
}

/* enroll: giving a simulated terminal its identity, as an installer would
 * (docs/device-protocol.md, section 1). With an admin API token devsim
 * creates the terminal (POST /api/v1/devices {"name": "devsim-N", ...}),
 * then either makes its own P-256 key and a CSR and enrols with the
 * one-time token (POST /api/v1/devices/enroll), or takes the ready bundle
 * the appliance answers with --bundle. Every step is written to the
 * terminal's directory at once, so an interrupted enrolment resumes
 * without creating the terminal twice. */
#ifndef GH_DEVSIM_ENROLL_H
#define GH_DEVSIM_ENROLL_H

#include "devsim/devsim.h"
#include "devsim/https.h"

#include <stddef.h>

/* Give DIR/devsim-<index> (dir) a complete identity. 0, or -1 with err. */
int enroll_terminal(const struct devsim_opts *o, struct https *api, const char *dir, int index, char *err,
		    size_t errlen);

/* A PKCS#10 request for the key, subject CN=cn, as PEM into out.
 * 0, or -1 (exposed for the tests). */
int enroll_csr(mbedtls_pk_context *key, const char *cn, char *out, size_t len);

#endif

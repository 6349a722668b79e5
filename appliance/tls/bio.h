/* bio: mbedTLS send/receive callbacks over a non-blocking socket whose file
 * descriptor the context points at. WANT_READ/WANT_WRITE come back instead
 * of blocking, and the caller waits with poll or epoll. */
#ifndef GH_TLS_BIO_H
#define GH_TLS_BIO_H

#include <stddef.h>

int tls_bio_send(void *fd_ptr, const unsigned char *buf, size_t len);
int tls_bio_recv(void *fd_ptr, unsigned char *buf, size_t len);

#endif

/*
 * ftps/error.h - error text carried from the lower layers to the module glue.
 *
 * The lower layers (config, keypair, context, session, tls) know nothing of
 * ProFTPD.  They return 0 or -1 with errno set, and describe the failure in a
 * struct ftps_error that the caller may log.  Messages never contain key
 * material; OpenSSL's reasons are appended for the log, never for the client.
 */
#ifndef FTPS_ERROR_H
#define FTPS_ERROR_H

#include <stddef.h>

#define FTPS_ERROR_MAX 512

struct ftps_error {
  char msg[FTPS_ERROR_MAX];
};

/* ftps_error_clear - empty the message; err may be NULL */
void ftps_error_clear(struct ftps_error *err);

/* ftps_error_set - format a message into err (NULL: no-op); clears the
 * OpenSSL error queue so that stale reasons do not leak into later messages */
void ftps_error_set(struct ftps_error *err, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* ftps_error_set_ssl - like ftps_error_set, then append ": reason, reason"
 * taken from the OpenSSL error queue, which is drained */
void ftps_error_set_ssl(struct ftps_error *err, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* ftps_error_ssl_reasons - drain the OpenSSL error queue into buf as
 * "reason, reason" (empty string when the queue is empty); returns buf */
char *ftps_error_ssl_reasons(char *buf, size_t bufsz);

/* ftps_error_pem_end - after PEM_read_bio() failed: 1 if it found no
 * further BEGIN line (the normal end of a PEM file; the error queue is
 * then cleared), 0 if a block is malformed (the queue keeps the reason) */
int ftps_error_pem_end(void);

#endif /* FTPS_ERROR_H */

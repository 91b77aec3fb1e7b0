/*
 * ftps/coalesce.h - a filter BIO that gathers TLS records into large
 * writes.
 *
 * OpenSSL hands its BIO one record (at most 16 KiB of data) per write, so a
 * download costs one write(2) per 16 KiB.  This BIO keeps the records of
 * one SSL_write in a buffer and passes them on in one write when the buffer
 * is full or the caller flushes (BIO_flush): a 256 KiB chunk then goes out
 * in one or two system calls.  Reads pass straight through.
 *
 * OpenSSL flushes by itself after handshake messages and alerts; whoever
 * calls SSL_write must BIO_flush the connection's write BIO afterwards, and
 * retry the flush (BIO_should_retry) until it succeeds.
 */
#ifndef FTPS_COALESCE_H
#define FTPS_COALESCE_H

#include <stddef.h>
#include <openssl/bio.h>

/* ftps_coalesce_new - a coalescing BIO of capacity bytes pushed in front
 * of next (which it then owns), or NULL.  The buffer is allocated at the
 * first write, small, and grows to capacity only as writes need it. */
BIO *ftps_coalesce_new(BIO *next, size_t capacity);

#endif /* FTPS_COALESCE_H */

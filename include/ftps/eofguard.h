/*
 * ftps/eofguard.h - a filter BIO that keeps a bare TCP EOF away from OpenSSL.
 *
 * When the peer closes a TLS connection without close_notify, OpenSSL 3
 * declares a fatal error, and a fatal error evicts the connection's session
 * from the server's cache and marks it unresumable.  A data connection
 * shares its session with the control connection, so one aborted transfer
 * would leave a TLS 1.2 session-ID client unable to resume on any later data
 * connection.  This BIO turns the EOF into "retry later" and remembers it;
 * the caller then reports the truncation itself, and OpenSSL never sees it.
 */
#ifndef FTPS_EOFGUARD_H
#define FTPS_EOFGUARD_H

#include <openssl/bio.h>

/* ftps_eofguard_new - a guard BIO pushed in front of next (which it then
 * owns), or NULL */
BIO *ftps_eofguard_new(BIO *next);

/* ftps_eofguard_hit - 1 if the guard in chain bio saw the peer's EOF */
int ftps_eofguard_hit(BIO *bio);

#endif /* FTPS_EOFGUARD_H */

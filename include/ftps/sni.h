/*
 * ftps/sni.h - name-based vhosts chosen by the TLS server name (SNI).
 */
#ifndef FTPS_SNI_H
#define FTPS_SNI_H

#include <openssl/ssl.h>

#include "mod_ftps.h"

/* ftps_sni_install - let ctx's control handshakes pick the vhost named by
 * SNI (at startup, for every server's SSL_CTX) */
void ftps_sni_install(SSL_CTX *ctx);

/* ftps_sni_use_ctx - let ssl (not yet past its ClientHello) present ctx's
 * certificate and follow ctx's settings: options, ticket count (a data
 * connection keeps issuing none), protocol range, key-exchange groups,
 * client verification.
 * For control connections after SNI, and their data connections.  0, or
 * -1 from OpenSSL. */
int ftps_sni_use_ctx(SSL *ssl, SSL_CTX *ctx);

/* ftps_sni_switch - after the control handshake: move the session to the
 * vhost SNI chose, as a HOST command would (core.session-reinit, then the
 * POST_CMD and LOG_CMD phases of HOST).  1 if it moved, 0 if there was
 * nowhere to move, -1 if the move could not be recorded (end the
 * session). */
int ftps_sni_switch(pool *p);

#endif /* FTPS_SNI_H */

/*
 * ftps/binding.h - proving that a data connection belongs to this FTP session.
 *
 * RFC 4217 section 10.2 lets a server require that the data connection's TLS
 * session resumes the control connection's, so that nobody else can connect
 * to the data port and take the transfer.  Comparing session IDs does not
 * prove that: TLS 1.3 and ticket resumption give new IDs (proftpd#1177,
 * #1193).  Instead every FTP session (one process) draws a random token, and
 * every session ticket and cached session that its control connection issues
 * carries that token as ticket application data.  A data connection passes
 * only if it resumed a session that carries this process's token.  Tickets
 * are encrypted with keys shared by all sessions, so a ticket from another
 * FTP session resumes but carries another token, and is refused.
 */
#ifndef FTPS_BINDING_H
#define FTPS_BINDING_H

#include <openssl/ssl.h>

#include "ftps/error.h"

#define FTPS_BINDING_LEN 32

/* ftps_binding_install - set ctx's ticket callbacks that stamp the token on
 * new tickets and check it on decrypted ones.  Call once per SSL_CTX. */
int ftps_binding_install(SSL_CTX *ctx, struct ftps_error *err);

/* ftps_binding_renew - draw a new token: call once in each new session
 * process, before its first handshake.  Returns 0, or -1 if the random
 * generator fails. */
int ftps_binding_renew(void);

/* ftps_binding_mark_ctrl - after a control handshake: stamp the token on
 * the control session (so that session-ID resumption carries it) and flag
 * ssl as a control connection (so that a ticket it resumed is renewed). */
int ftps_binding_mark_ctrl(SSL *ssl);

/* ftps_binding_mark_data - before a data handshake: flag ssl as a data
 * connection (its tickets are used, never renewed). */
int ftps_binding_mark_data(SSL *ssl);

/* ftps_binding_is_data - 1 if ssl was marked as a data connection */
int ftps_binding_is_data(const SSL *ssl);

/* ftps_binding_verify - after a data handshake: 0 if ssl resumed a session
 * carrying this process's token, else -1 (EPERM) with the reason in err. */
int ftps_binding_verify(SSL *ssl, struct ftps_error *err);

#endif /* FTPS_BINDING_H */

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
 *
 * Each SSL_CTX (one per vhost) also has a scope, stamped beside the token:
 * every vhost's tickets are encrypted with the same rotating keys
 * (ticketkeys.h), and a ticket is decrypted under the context a connection
 * began on (the default server's, before SNI moves it), so the scope is
 * what keeps a session authenticated under one vhost's client-certificate
 * rules from resuming under another's.  Such a ticket means a full
 * handshake (RFC 6066 section 3); a resumption that still carries another
 * scope is refused.  The scope is random, or (ftps_binding_set_scope)
 * derived from the vhost's identity and rules under a secret the daemon
 * keeps across restarts, so that tickets still resume after a reload.
 */
#ifndef FTPS_BINDING_H
#define FTPS_BINDING_H

#include <openssl/ssl.h>

#include "ftps/error.h"

#define FTPS_BINDING_LEN 32
#define FTPS_BINDING_SCOPE_LEN 16

/* ftps_binding_install - give ctx its scope, and set its ticket callbacks
 * that stamp token and scope on new tickets and check the scope of
 * decrypted ones.  Call once per SSL_CTX. */
int ftps_binding_install(SSL_CTX *ctx, struct ftps_error *err);

/* ftps_binding_release - free the scopes of all contexts installed so
 * far: call once those contexts are freed (at a restart) */
void ftps_binding_release(void);

/* ftps_binding_forget - free the scope of ctx alone, which is about to be
 * freed while the others live on (a renewal, a failed build): else it
 * would wait for the next restart, one more at every renewal */
void ftps_binding_forget(SSL_CTX *ctx);

/* ftps_binding_set_scope - after ftps_binding_install: give ctx this
 * scope (FTPS_BINDING_SCOPE_LEN bytes) instead of its random one, so that
 * a vhost keeps its scope across restarts (ticketkeys.h derives it) and
 * its tickets resume after a reload.  0, or -1 (EINVAL). */
int ftps_binding_set_scope(SSL_CTX *ctx, const unsigned char *scope);

/* ftps_binding_renew - draw a new token: call once in each new session
 * process, before its first handshake.  Returns 0, or -1 if the random
 * generator fails. */
int ftps_binding_renew(void);

/* ftps_binding_mark_ctrl - after a control handshake: -1 (EPERM) if it
 * resumed a session of another scope (vhost); else stamp token and scope on
 * the control session (so that session-ID resumption carries them) and flag
 * ssl as a control connection (so that a ticket it resumed is renewed). */
int ftps_binding_mark_ctrl(SSL *ssl);

/* ftps_binding_mark_data - before a data handshake: flag ssl as a data
 * connection (its tickets are used, never renewed). */
int ftps_binding_mark_data(SSL *ssl);

/* ftps_binding_is_data - 1 if ssl was marked as a data connection */
int ftps_binding_is_data(const SSL *ssl);

/* ftps_binding_verify - after a data handshake: 0 if ssl resumed a session
 * carrying this process's token and the scope of ssl's context, else -1
 * (EPERM) with the reason in err. */
int ftps_binding_verify(SSL *ssl, struct ftps_error *err);

#endif /* FTPS_BINDING_H */

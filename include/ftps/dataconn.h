/*
 * ftps/dataconn.h - whether a data connection is protected, how, and why it
 * was refused.
 *
 * Every decision about a protected data connection lives here: the TLS it
 * gets (the context whose cache and ticket keys hold the control session,
 * the vhost's certificate after SNI, the client side under SSCN ON, kernel
 * TLS, bulk reads), the socket settings for its handshake (no corking), the
 * checks after the handshake (it resumed a session of this FTP session, it
 * presents no other client certificate than the control connection did),
 * and the TLSLog line that says which path its records take.  The waiting
 * (handshake, close_notify) stays in netio.c.
 */
#ifndef FTPS_DATACONN_H
#define FTPS_DATACONN_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "mod_ftps.h"
#include "ftps/error.h"
#include "ftps/tls.h"

/* What the next data connections must be (kept by netio.c from the
 * session's settings and its control handshake). */
struct ftps_dataconn_rules {
  SSL_CTX *ctx;         /* the control session's context: its cache and
                         * ticket keys resume data connections */
  SSL_CTX *cert_ctx;    /* after SNI: the vhost's context, else NULL */
  SSL_CTX *client_ctx;  /* SSCN ON: we are the TLS client (FXP) */
  X509 *ctrl_cert;      /* the control connection's client certificate,
                         * kept past CCC; NULL if it sent none */
  int kernel_tls;       /* FTPSKernelTLS */
  int require_reuse;    /* must resume a session of this FTP session */
  int client_mode;      /* SSCN ON */
  int after_ccc;        /* the control connection is clear again: no
                         * ticket can reach the client there */
};

/* ftps_dataconn_new - the TLS of the data connection on nstrm, ready for
 * its handshake (the socket uncorked).  NULL when it is refused: logged,
 * errno EPERM, and the core answers 425. */
struct ftps_tls *ftps_dataconn_new(pr_netio_stream_t *nstrm,
  const struct ftps_dataconn_rules *rules);

/* ftps_dataconn_check - after the handshake: 0 if the connection may carry
 * the transfer, else -1 with the reason in err (the caller ends its TLS
 * with close_notify, then calls ftps_dataconn_refuse) */
int ftps_dataconn_check(struct ftps_tls *tls,
  const struct ftps_dataconn_rules *rules, struct ftps_error *err);

/* ftps_dataconn_refuse - refuse the data connection on nstrm for why (to
 * TLSLog, never to the client) and free tls: -1 with errno EPERM, so that
 * the core answers 425.  A refused TLS 1.2 session leaves the cache. */
int ftps_dataconn_refuse(pr_netio_stream_t *nstrm, struct ftps_tls *tls,
  const struct ftps_dataconn_rules *rules, const char *why);

/* ftps_dataconn_handshake_failed - ftps_dataconn_refuse for a failed
 * handshake, saying so under SSCN ON */
int ftps_dataconn_handshake_failed(pr_netio_stream_t *nstrm,
  struct ftps_tls *tls, const struct ftps_dataconn_rules *rules,
  const char *why);

/* ftps_dataconn_accepted - the connection carries the transfer: sendfile
 * where the kernel encrypts (ftps/sendfile.h), and its TLSLog line */
void ftps_dataconn_accepted(struct ftps_tls *tls,
  const struct ftps_dataconn_rules *rules);

/* ftps_dataconn_hands_ticket - 1 if the accepted connection must hand the
 * client a TLS 1.3 ticket for its next data connection.  After CCC the
 * control connection cannot, and OpenSSL clients (curl) use each TLS 1.3
 * ticket once.  Downloads only: an uploading client never reads, and an
 * unread ticket ends its upload with a reset (proftpd#959).  The ticket
 * carries this FTP session's token only because the connection resumed a
 * session of ours (ftps_dataconn_check). */
int ftps_dataconn_hands_ticket(const struct ftps_tls *tls,
  const struct ftps_dataconn_rules *rules);

/* ftps_dataconn_end - an accepted data connection is closed (before its
 * TLS is freed): its own session, if it did not resume one, leaves the
 * session cache (TLSOptions NoSessionReuseRequired clients) */
void ftps_dataconn_end(struct ftps_tls *tls,
  const struct ftps_dataconn_rules *rules);

#endif /* FTPS_DATACONN_H */

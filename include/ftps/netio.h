/*
 * ftps/netio.h - TLS on ProFTPD's control and data streams.
 *
 * mod_ftps registers NetIO callbacks for the control and data streams of
 * its sessions.  A stream with no TLS attached goes straight to the NetIO
 * that was in place before (the core's), so plain FTP is untouched.
 */
#ifndef FTPS_NETIO_H
#define FTPS_NETIO_H

#include <openssl/ssl.h>

#include "mod_ftps.h"
#include "ftps/error.h"
#include "ftps/tls.h"

/* The settings of the vhost a session is on, handed over as one. */
struct ftps_netio_settings {
  SSL_CTX *ctx;               /* server handshakes (the vhost's) */
  SSL_CTX *client_ctx;        /* data handshakes under SSCN ON (FXP) */
  int timeout;                /* TLSTimeoutHandshake, seconds; 0: none */
  long rekey_ctrl_secs;       /* TLSRenegotiate ctrl; 0: never */
  long rekey_data_kb;         /* TLSRenegotiate data; 0: never */
  int kernel_tls;             /* FTPSKernelTLS: offer data connections to
                               * kernel TLS (ftps/ktls.h) */
  int data_protect;           /* the next data connections are TLS */
  int data_require_reuse;     /* ... and must resume a session of this FTP
                               * session (not NoSessionReuseRequired) */
  int data_client_mode;       /* ... with us as TLS client (SSCN ON) */
};

/* ftps_netio_install - register the control and data NetIO of this session
 * process, with set in force */
int ftps_netio_install(const struct ftps_netio_settings *set);

/* ftps_netio_configure - set is in force from now on (the session moved to
 * another vhost by HOST or SNI, or PROT, CCC or SSCN changed what data
 * connections must be).  Once a control handshake has begun, data
 * connections keep resuming its session from its context and only present
 * set->ctx's certificate. */
void ftps_netio_configure(const struct ftps_netio_settings *set);

/* ftps_netio_ctrl_start - the server side of the control handshake (after
 * "234"): discards whatever plaintext the client sent after AUTH, then runs
 * the handshake within the timeout.  Returns 0, or -1 with err set. */
int ftps_netio_ctrl_start(struct ftps_error *err);

/* ftps_netio_ctrl_clear - end TLS on the control connection (CCC), with
 * close_notify both ways within the handshake timeout; the connection goes
 * on in clear.  Returns 0, or -1 with err set (the caller must then end the
 * session: the state of the stream is unknown). */
int ftps_netio_ctrl_clear(struct ftps_error *err);

/* ftps_netio_ticket_before_data - before a protected data command: TLS
 * 1.3 clients use each session ticket once, and data connections issue
 * none (proftpd#959), so the client must hold a fresh one for the data
 * handshake.  Queues one to go with the next reply, unless one went out
 * since the previous data command (ftps_netio_ticket_after_data) and is
 * still fresh (proftpd#1931: tickets near expiry in long sessions). */
void ftps_netio_ticket_before_data(void);

/* ftps_netio_ticket_after_data - a protected data command is answered: the
 * ticket for the next one is sent when the control connection next waits
 * for a command, while the client reads this reply */
void ftps_netio_ticket_after_data(void);

/* ftps_netio_before_cmd - a command is about to be handled: if the last
 * transfer's final close_notify could not be sent, it was answered 426,
 * and the core's "226" after it held back; replies flow again from here */
void ftps_netio_before_cmd(void);


/* ftps_netio_ctrl_tls - the control connection's TLS, or NULL */
struct ftps_tls *ftps_netio_ctrl_tls(void);

#endif /* FTPS_NETIO_H */

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

/* ftps_netio_install - register the control and data NetIO of this session
 * process; ctx (and client_ctx for SSCN data connections) and timeout
 * (seconds, 0 = none) serve every handshake */
int ftps_netio_install(SSL_CTX *ctx, SSL_CTX *client_ctx, int timeout);

/* ftps_netio_set_contexts - the session moved to another vhost (HOST, or
 * SNI): its contexts serve the coming handshakes.  Once the control
 * connection is protected, data connections keep resuming its session and
 * only present ctx's certificate. */
void ftps_netio_set_contexts(SSL_CTX *ctx, SSL_CTX *client_ctx);

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

/* ftps_netio_data_refused - 1 if the TLS of the last data connection was
 * refused (failed handshake, or no resumption of the control session) */
int ftps_netio_data_refused(void);

/* ftps_netio_ctrl_tls - the control connection's TLS, or NULL */
struct ftps_tls *ftps_netio_ctrl_tls(void);

/* ftps_netio_set_data_protection - whether the next data connections must
 * be TLS, whether they must resume the control session, and whether we
 * are the TLS client on them (SSCN ON) */
void ftps_netio_set_data_protection(int protect, int require_reuse,
  int client_mode);

/* ftps_netio_set_rekey - TLSRenegotiate: under TLS 1.3, update the keys of
 * the control connection once ctrl_secs have passed (at its next command
 * or reply), and of a data connection every data_kb kilobytes; 0 = never */
void ftps_netio_set_rekey(long ctrl_secs, long data_kb);

/* ftps_netio_set_kernel_tls - FTPSKernelTLS: offer protected data
 * connections to kernel TLS (when ftps/ktls.h found the kernel able); each
 * connection's TLSLog line then says which path it took */
void ftps_netio_set_kernel_tls(int on);

#endif /* FTPS_NETIO_H */

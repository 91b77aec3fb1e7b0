/*
 * ftps/tls.h - one TLS connection (control or data) over a socket.
 *
 * Every call is one non-blocking step: it returns -1 with errno EAGAIN and
 * *want set when the socket must become readable or writable first.  The
 * caller owns the waiting (the NetIO layer polls and handles ProFTPD's
 * signals; the unit tests interleave client and server in one process).
 */
#ifndef FTPS_TLS_H
#define FTPS_TLS_H

#include <sys/types.h>
#include <openssl/ssl.h>

#include "ftps/error.h"

enum ftps_tls_kind {
  FTPS_TLS_CTRL = 0,
  FTPS_TLS_DATA = 1,
  FTPS_TLS_DATA_CLIENT = 2   /* SSCN ON: we are the client (FXP) */
};

#define FTPS_WANT_READ   1
#define FTPS_WANT_WRITE  2

/* Data connections move data in chunks of this size: the read-ahead
 * buffer takes this much from the socket at once, and the records of one
 * write of this size leave in one write(2) (ftps/coalesce.h).  64 KiB
 * measured best: 16 KiB costs a system call or three per record, and from
 * 128 KiB on, the core's, OpenSSL's and our copies of a chunk no longer
 * stay in the CPU's cache (server CPU per GB downloaded: 0.9 s at 64 KiB,
 * 1.4 s at 128 KiB and 256 KiB). */
#ifndef FTPS_TLS_DATA_BUFSZ
# define FTPS_TLS_DATA_BUFSZ  (64 * 1024)
#endif

struct ftps_tls;

/* ftps_tls_new - a TLS connection on fd, from ctx: server side, or client
 * side for FTPS_TLS_DATA_CLIENT (ctx then comes from
 * ftps_context_new_client).  Data
 * connections issue no session tickets: a client that only uploads never
 * reads them, and unread tickets end TLS 1.3 uploads with a reset
 * (proftpd#959).  Returns NULL with errno and err set. */
struct ftps_tls *ftps_tls_new(SSL_CTX *ctx, int fd, enum ftps_tls_kind kind,
  struct ftps_error *err);

/* ftps_tls_new_bio - the same over transport, a BIO standing for the
 * socket (which the connection then owns and frees), e.g. a memory BIO in
 * the fuzzing harness; ftps_tls_fd then answers -1 */
struct ftps_tls *ftps_tls_new_bio(SSL_CTX *ctx, BIO *transport,
  enum ftps_tls_kind kind, struct ftps_error *err);

/* ftps_tls_bulk_reads - before the handshake of an upload: read records
 * FTPS_TLS_DATA_BUFSZ at a time (a larger read buffer for the data
 * connection's life) */
void ftps_tls_bulk_reads(struct ftps_tls *tls);

/* ftps_tls_kernel_offload - before the handshake: let OpenSSL hand the
 * record layer to the kernel once the keys are known (ftps/ktls.h), where
 * the kernel, version and cipher allow; else the connection stays in user
 * space, which ftps_tls_kernel_send/recv tell afterwards */
void ftps_tls_kernel_offload(struct ftps_tls *tls);

/* ftps_tls_kernel_send, ftps_tls_kernel_recv - 1 if the kernel encrypts
 * what we send (decrypts what we receive) on this connection */
int ftps_tls_kernel_send(const struct ftps_tls *tls);
int ftps_tls_kernel_recv(const struct ftps_tls *tls);

/* ftps_tls_expect_peer_ip - client side: the peer's certificate must name
 * this IP address (when the context verifies peers).  0 or -1. */
int ftps_tls_expect_peer_ip(struct ftps_tls *tls, const char *ip);

/* ftps_tls_free - free the connection; does not close fd */
void ftps_tls_free(struct ftps_tls *tls);

/* ftps_tls_handshake - one step of the server handshake: 0 when complete,
 * -1/EAGAIN with *want, or -1/EPROTO (or ECONNRESET when the peer went
 * away) with err set from OpenSSL's reasons. */
int ftps_tls_handshake(struct ftps_tls *tls, int *want,
  struct ftps_error *err);

/* ftps_tls_read - up to len bytes of plaintext: > 0 bytes, 0 when the peer
 * sent close_notify, or -1 with errno: EAGAIN (*want set), ECONNRESET when
 * the connection ended without close_notify (a truncated transfer must
 * never look complete), EPROTO on any other TLS failure. */
ssize_t ftps_tls_read(struct ftps_tls *tls, void *buf, size_t len, int *want);

/* ftps_tls_write - write all of len bytes or none: > 0, or -1 with errno
 * EAGAIN (*want set; call again with the same buf and len), EPIPE, EPROTO.
 * On a data connection the records may still be held: ftps_tls_flush. */
ssize_t ftps_tls_write(struct ftps_tls *tls, const void *buf, size_t len,
  int *want);

/* ftps_tls_flush - after ftps_tls_write on a data connection: pass the
 * records it gathered on to the socket.  0 when nothing is left, -1/EAGAIN
 * with *want, -1 with another errno (the connection has failed). */
int ftps_tls_flush(struct ftps_tls *tls, int *want);

/* ftps_tls_shutdown - send close_notify (once): 0 when sent, -1/EAGAIN with
 * *want, -1 with another errno when it cannot be sent */
int ftps_tls_shutdown(struct ftps_tls *tls, int *want);

/* ftps_tls_drain - after our close_notify (ftps_tls_shutdown): read and
 * discard what the peer still sends (TLS 1.3 session tickets, which a
 * server sends after the handshake and a client that only writes never
 * reads; records after our close_notify) until it closes: its close_notify
 * or its end of the TCP stream.  Closing a socket with unread bytes makes
 * the kernel reset the connection, and the reset destroys what the peer
 * has not read yet: the end of a download.  0 once the peer has closed,
 * -1/EAGAIN with *want while it has not, -1 with another errno (ECONNRESET:
 * the peer reset the connection; EPIPE: no close_notify was sent). */
int ftps_tls_drain(struct ftps_tls *tls, int *want);

/* ftps_tls_new_ticket - under TLS 1.3, queue a fresh session ticket, sent
 * with the next write on this connection; 0 (also when nothing is to be
 * done: TLS 1.2 tickets and session IDs can be reused), or -1 */
int ftps_tls_new_ticket(struct ftps_tls *tls);

/* ftps_tls_send_queued - write out now what is queued for the peer (a
 * ticket from ftps_tls_new_ticket) instead of with the next write: 0, or
 * -1/EAGAIN with *want, -1 with another errno */
int ftps_tls_send_queued(struct ftps_tls *tls, int *want);

/* ftps_tls_key_update - one step of a TLS 1.3 key update (TLSRenegotiate):
 * new keys for what we send, and with both set, a request that the peer
 * renew its own (it answers with a KeyUpdate, which we must then read).
 * 0 once the KeyUpdate is sent, -1/EAGAIN with *want, -1/ENOTSUP when
 * this connection's keys cannot be updated (TLS 1.2, which mod_ftps never
 * renegotiates; kernel TLS; ftps_tls_error says which), -1 with another
 * errno when it cannot be sent.  Must not be called while a write waits
 * for a retry. */
int ftps_tls_key_update(struct ftps_tls *tls, int both, int *want);

/* ftps_tls_close - a bidirectional TLS closure (CCC, RFC 4217 section 6):
 * send close_notify, then wait for the peer's.  0 when both have passed,
 * -1/EAGAIN with *want, or -1 with another errno (the peer sent data or
 * went away instead). */
int ftps_tls_close(struct ftps_tls *tls, int *want);

/* ftps_tls_pending - plaintext bytes already decrypted and buffered */
int ftps_tls_pending(const struct ftps_tls *tls);

/* ftps_tls_read_ready - 1 if a read would answer at once without the
 * socket: bytes wait inside the TLS layer (decrypted, or records read
 * ahead, which select() cannot see), or the peer's close_notify or a
 * failure was already met */
int ftps_tls_read_ready(const struct ftps_tls *tls);

/* ftps_tls_error - why the last call failed, for the log ("" if none) */
const char *ftps_tls_error(const struct ftps_tls *tls);

/* ftps_tls_fd - the socket */
int ftps_tls_fd(const struct ftps_tls *tls);

/* ftps_tls_ssl - the OpenSSL connection, for the layers beside this one */
SSL *ftps_tls_ssl(const struct ftps_tls *tls);

/* ftps_tls_resumed - 1 if the handshake resumed an earlier session */
int ftps_tls_resumed(const struct ftps_tls *tls);

/* ftps_tls_session_lifetime - seconds the connection's session (and the
 * tickets it issues) stays resumable; 0 when unknown */
long ftps_tls_session_lifetime(const struct ftps_tls *tls);

/* ftps_tls_server_name - the SNI host name the client sent, or "" */
const char *ftps_tls_server_name(const struct ftps_tls *tls);

/* ftps_tls_library - the OpenSSL version in use, e.g. "OpenSSL 3.0.19 ..." */
const char *ftps_tls_library(void);

/* ftps_tls_protocol, ftps_tls_cipher - e.g. "TLSv1.3",
 * "TLS_AES_256_GCM_SHA384" ("" before the handshake) */
const char *ftps_tls_protocol(const struct ftps_tls *tls);
const char *ftps_tls_cipher(const struct ftps_tls *tls);

#endif /* FTPS_TLS_H */

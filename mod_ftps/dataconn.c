/*
 * dataconn.c - the decisions about a protected data connection
 * (ftps/dataconn.h): its TLS, its checks, its refusal and its log line.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "ftps/dataconn.h"
#include "ftps/binding.h"
#include "ftps/ktls.h"
#include "ftps/log.h"
#include "ftps/peer.h"
#include "ftps/sendfile.h"
#include "ftps/sni.h"


/* forget_session - a data connection's own TLS 1.2 session (a full
 * handshake) must not stay in the control context's cache: nobody needs
 * to resume it (data connections resume the control session), a refused
 * one nobody may, and each would keep about 1 KB of the session process
 * until it expires.  A session the connection resumed (the control
 * session) stays. */
static void forget_session(struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules) {
  SSL *ssl;
  SSL_SESSION *sess;

  if (tls == NULL ||
      rules == NULL ||
      rules->client_mode ||
      rules->ctx == NULL) {
    return;
  }

  ssl = ftps_tls_ssl(tls);
  sess = SSL_get0_session(ssl);
  if (sess != NULL &&
      !SSL_session_reused(ssl)) {
    (void) SSL_CTX_remove_session(rules->ctx, sess);
  }
  pr_trace_msg(FTPS_TRACE_CHANNEL, 9, "session cache: %ld sessions",
    SSL_CTX_sess_number(rules->ctx));
}

/* refuse - log why, free tls, and make the core answer 425 */
static int refuse(pr_netio_stream_t *nstrm, struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules, const char *why,
    const char *hint) {
  ftps_log("refusing data connection: %s%s", why, hint);
  forget_session(tls, rules);
  ftps_tls_free(tls);

  nstrm->strm_errno = EPERM;
  if (session.d != NULL) {
    session.d->xerrno = EPERM;
  }
  errno = EPERM;
  return -1;
}

/* prepare_socket - the core corks data sockets (TCP_CORK, inherited from
 * the PASV listener); a corked handshake flight waits 200 ms for more data
 * that never comes.  Uncork, and send small records at once. */
static void prepare_socket(int fd) {
  int on = 1;

  if (pr_inet_set_proto_cork(fd, 0) < 0) {
    pr_trace_msg(FTPS_TRACE_CHANNEL, 3, "cannot uncork fd %d: %s", fd,
      strerror(errno));
  }
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0) {
    pr_trace_msg(FTPS_TRACE_CHANNEL, 3, "cannot set TCP_NODELAY on fd %d: %s",
      fd, strerror(errno));
  }
}

/* foreign_peer - the peer's address if the data connection comes from
 * another address than the control connection and AllowForeignAddress is
 * not set; else NULL.  ProFTPD documents "AllowForeignAddress off" as its
 * default, and refuses a foreign PORT address without the directive, but
 * its passive accept checks the peer only when the directive is set: a
 * protected data connection is held to the documented default here (a
 * port thief, RFC 2577 "Port Stealing").  When the directive is set, the
 * core's check (on, off, or a <Class>) stands. */
static const char *foreign_peer(void) {
  if (session.c == NULL ||
      session.d == NULL ||
      session.c->remote_addr == NULL ||
      session.d->remote_addr == NULL ||
      pr_netaddr_cmp(session.d->remote_addr, session.c->remote_addr) == 0) {
    return NULL;
  }

  if (find_config(TOPLEVEL_CONF, CONF_PARAM, "AllowForeignAddress",
      FALSE) != NULL) {
    return NULL;
  }
  return pr_netaddr_get_ipstr(session.d->remote_addr);
}

struct ftps_tls *ftps_dataconn_new(pr_netio_stream_t *nstrm,
    const struct ftps_dataconn_rules *rules) {
  struct ftps_error err;
  struct ftps_tls *tls;
  const char *foreign;

  foreign = foreign_peer();
  if (foreign != NULL) {
    ftps_error_set(&err, "it comes from the foreign address %s, not the "
      "client's %s (AllowForeignAddress on allows this)", foreign,
      pr_netaddr_get_ipstr(session.c->remote_addr));
    (void) refuse(nstrm, NULL, rules, err.msg, "");
    return NULL;
  }

  prepare_socket(nstrm->strm_fd);
  ftps_error_clear(&err);
  tls = rules->client_mode ?
    ftps_tls_new(rules->client_ctx, nstrm->strm_fd, FTPS_TLS_DATA_CLIENT,
      &err) :
    ftps_tls_new(rules->ctx, nstrm->strm_fd, FTPS_TLS_DATA, &err);
  if (tls == NULL) {
    (void) refuse(nstrm, NULL, rules, err.msg, "");
    return NULL;
  }

  /* The vhost's settings, TLSVerifyClient included, not only its
   * certificate (sni.c). */
  if (!rules->client_mode &&
      rules->cert_ctx != NULL &&
      ftps_sni_use_ctx(ftps_tls_ssl(tls), rules->cert_ctx) < 0) {
    (void) refuse(nstrm, tls, rules, "cannot use the vhost's settings", "");
    return NULL;
  }

  if (rules->kernel_tls &&
      ftps_ktls_available()) {
    ftps_tls_kernel_offload(tls);
  }

  /* An upload reads records in large pieces (the file is written so). */
  if (session.xfer.direction == PR_NETIO_IO_RD &&
      session.xfer.bufsize >= FTPS_TLS_DATA_BUFSZ) {
    ftps_tls_bulk_reads(tls);
  }

  /* As the client (FXP), the certificate must name the server we reach. */
  if (rules->client_mode &&
      session.d != NULL &&
      ftps_tls_expect_peer_ip(tls,
        pr_netaddr_get_ipstr(session.d->remote_addr)) < 0) {
    (void) refuse(nstrm, tls, rules, "cannot set the expected peer address",
      "");
    return NULL;
  }
  return tls;
}

int ftps_dataconn_check(struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules, struct ftps_error *err) {
  struct ftps_error why;
  X509 *cert;

  /* As the TLS client (SSCN ON) there is no session of ours to resume,
   * and the peer is the other server. */
  if (rules->client_mode) {
    return 0;
  }

  ftps_error_clear(&why);
  /* RFC 4217 section 10.2: a server may insist that the data connection
   * reuses the control connection's session, so that no third party can
   * steal the transfer by connecting to the data port first.  This holds
   * after CCC too: the session (or ticket) resumed must still be one this
   * FTP session issued (ftps/binding.h). */
  if (rules->require_reuse &&
      ftps_binding_verify(ftps_tls_ssl(tls), &why) < 0) {
    ftps_error_set(err, "%s (TLSOptions NoSessionReuseRequired allows this, "
      "e.g. for stock Python ftplib)", why.msg);
    errno = EPERM;
    return -1;
  }

  /* A data connection must not present another client certificate than
   * the control connection did.  The control connection's certificate was
   * kept at its handshake: after CCC its TLS is gone. */
  cert = SSL_get0_peer_certificate(ftps_tls_ssl(tls));
  if (cert != NULL &&
      (rules->ctrl_cert == NULL ||
       !ftps_peer_same(rules->ctrl_cert, cert))) {
    ftps_error_set(err, "the data connection presented another client "
      "certificate than the control connection");
    errno = EPERM;
    return -1;
  }
  return 0;
}

int ftps_dataconn_refuse(pr_netio_stream_t *nstrm, struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules, const char *why) {
  return refuse(nstrm, tls, rules, why, "");
}

int ftps_dataconn_handshake_failed(pr_netio_stream_t *nstrm,
    struct ftps_tls *tls, const struct ftps_dataconn_rules *rules,
    const char *why) {
  return refuse(nstrm, tls, rules, why, rules->client_mode ?
    " (as TLS client: SSCN ON; see TLSVerifyServer)" : "");
}

/* data_path - which code protects the connection's records, for its log
 * line: the kernel's (ftps/ktls.h) or OpenSSL's, and why */
static const char *data_path(const struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules) {
  static char why[192];
  int send = ftps_tls_kernel_send(tls), recv = ftps_tls_kernel_recv(tls);

  if (send && recv) {
    return "kernel TLS (send and receive)";
  }
  if (send) {
    return "kernel TLS send, user-space TLS receive";
  }
  if (recv) {
    return "kernel TLS receive, user-space TLS send";
  }
  if (!rules->kernel_tls) {
    return "user-space TLS (FTPSKernelTLS off)";
  }
  if (!ftps_ktls_available()) {
    pr_snprintf(why, sizeof(why), "user-space TLS (kernel TLS unavailable: "
      "%s)", ftps_ktls_reason());
    return why;
  }
  return "user-space TLS (OpenSSL kept the records: protocol version or "
    "cipher not offloadable)";
}

void ftps_dataconn_accepted(struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules) {
  int sendfile_ok;

  sendfile_ok = ftps_sendfile_allow(!rules->client_mode &&
    session.xfer.direction == PR_NETIO_IO_WR && ftps_tls_kernel_send(tls));
  ftps_log("data connection protected: %s, %s%s; %s%s",
    ftps_tls_protocol(tls), ftps_tls_cipher(tls),
    ftps_tls_resumed(tls) ? ", resumed" : "", data_path(tls, rules),
    sendfile_ok ? " (files by sendfile)" : "");
}

int ftps_dataconn_hands_ticket(const struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules) {
  return rules->after_ccc &&
    rules->require_reuse &&
    !rules->client_mode &&
    session.xfer.direction == PR_NETIO_IO_WR &&
    SSL_version(ftps_tls_ssl(tls)) == TLS1_3_VERSION &&
    ftps_tls_resumed(tls);
}

void ftps_dataconn_end(struct ftps_tls *tls,
    const struct ftps_dataconn_rules *rules) {
  forget_session(tls, rules);
}


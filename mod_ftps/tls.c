/*
 * tls.c - one server-side TLS connection over a socket (ftps/tls.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ftps/binding.h"
#include "ftps/coalesce.h"
#include "ftps/eofguard.h"
#include "ftps/tls.h"

struct ftps_tls {
  SSL *ssl;
  int fd;
  enum ftps_tls_kind kind;
  int shutdown_sent;
  int key_update_started;        /* KeyUpdate scheduled, not yet sent */
  int failed;                    /* a fatal error: no close_notify allowed */
  int refused_reneg;             /* we answered a renegotiation with
                                  * no_renegotiation */
  char reason[FTPS_ERROR_MAX];   /* why the last call failed */
};

/* Appended to the reason of a failure that follows a refused
 * renegotiation. */
static const char reneg_note[] = " (after we refused the client's "
  "renegotiation; TLSOptions AllowClientRenegotiations allows it)";

/* msg_cb - notice the no_renegotiation alert we send: OpenSSL refuses a
 * client's renegotiation silently, and the client then usually ends the
 * connection with a handshake_failure alert that, logged alone, would not
 * say that the renegotiation was the cause */
static void msg_cb(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg) {
  struct ftps_tls *tls = arg;

  (void) version;
  (void) ssl;
  if (write_p &&
      content_type == SSL3_RT_ALERT &&
      len >= 2 &&
      ((const unsigned char *) buf)[1] == SSL_AD_NO_RENEGOTIATION) {
    tls->refused_reneg = 1;
  }
}

struct ftps_tls *ftps_tls_new(SSL_CTX *ctx, int fd, enum ftps_tls_kind kind,
    struct ftps_error *err) {
  struct ftps_tls *tls;

  if (ctx == NULL || fd < 0) {
    errno = EINVAL;
    return NULL;
  }

  ERR_clear_error();
  tls = ftps_tls_new_bio(ctx, BIO_new_socket(fd, BIO_NOCLOSE), kind, err);
  if (tls != NULL) {
    tls->fd = fd;
  }
  return tls;
}

struct ftps_tls *ftps_tls_new_bio(SSL_CTX *ctx, BIO *transport,
    enum ftps_tls_kind kind, struct ftps_error *err) {
  struct ftps_tls *tls;
  BIO *bio;

  if (ctx == NULL) {
    BIO_free_all(transport);
    errno = EINVAL;
    return NULL;
  }
  if (transport == NULL) {
    ftps_error_set_ssl(err, "cannot create a TLS connection");
    errno = ENOMEM;
    return NULL;
  }

  tls = calloc(1, sizeof(*tls));
  if (tls == NULL) {
    BIO_free_all(transport);
    ftps_error_set(err, "out of memory");
    errno = ENOMEM;
    return NULL;
  }
  tls->fd = -1;
  tls->kind = kind;

  tls->ssl = SSL_new(ctx);
  bio = ftps_eofguard_new(transport);
  if (bio != NULL &&
      kind != FTPS_TLS_CTRL) {
    BIO *gather = ftps_coalesce_new(bio, FTPS_TLS_DATA_BUFSZ +
      FTPS_TLS_DATA_BUFSZ / 8);

    if (gather == NULL) {
      BIO_free_all(bio);
    }
    bio = gather;
  }
  if (tls->ssl == NULL ||
      bio == NULL) {
    ftps_error_set_ssl(err, "cannot create a TLS connection");
    BIO_free_all(bio);
    ftps_tls_free(tls);
    errno = ENOMEM;
    return NULL;
  }
  SSL_set_bio(tls->ssl, bio, bio);

  if (kind != FTPS_TLS_CTRL) {
    /* Read as many records per read(2) as have arrived, instead of a
     * header and a body per record. */
    SSL_set_read_ahead(tls->ssl, 1);
  }

  if (kind == FTPS_TLS_DATA_CLIENT) {
    SSL_set_connect_state(tls->ssl);
    return tls;
  }
  SSL_set_accept_state(tls->ssl);
  SSL_set_msg_callback(tls->ssl, msg_cb);
  SSL_set_msg_callback_arg(tls->ssl, tls);

  if (kind == FTPS_TLS_DATA) {
    /* No tickets on data connections: an uploading client never reads
     * them, and TLS 1.3 uploads then end in a reset (proftpd#959). */
    SSL_set_num_tickets(tls->ssl, 0);
    if (ftps_binding_mark_data(tls->ssl) < 0) {
      ftps_error_set(err, "cannot mark the data connection");
      ftps_tls_free(tls);
      return NULL;
    }

  } else {
    /* An idle control connection need not keep 2 x 16 KiB of buffers. */
    SSL_set_mode(tls->ssl, SSL_MODE_RELEASE_BUFFERS);
  }

  return tls;
}

void ftps_tls_bulk_reads(struct ftps_tls *tls) {
  if (tls != NULL) {
    SSL_set_default_read_buffer_len(tls->ssl, FTPS_TLS_DATA_BUFSZ);
  }
}

void ftps_tls_kernel_offload(struct ftps_tls *tls) {
  if (tls != NULL) {
    SSL_set_options(tls->ssl, SSL_OP_ENABLE_KTLS);
    /* OpenSSL gives the kernel the receiving side only if nothing past the
     * handshake was read yet, as whole records: read-ahead could hold the
     * client's first data records, or part of one.  It comes back after
     * the handshake where the kernel did not take that side. */
    SSL_set_read_ahead(tls->ssl, 0);
  }
}

int ftps_tls_kernel_send(const struct ftps_tls *tls) {
  BIO *wbio = tls != NULL ? SSL_get_wbio(tls->ssl) : NULL;

  return wbio != NULL && BIO_get_ktls_send(wbio) ? 1 : 0;
}

int ftps_tls_kernel_recv(const struct ftps_tls *tls) {
  BIO *rbio = tls != NULL ? SSL_get_rbio(tls->ssl) : NULL;

  return rbio != NULL && BIO_get_ktls_recv(rbio) ? 1 : 0;
}

int ftps_tls_expect_peer_ip(struct ftps_tls *tls, const char *ip) {
  if (tls == NULL || ip == NULL ||
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls->ssl), ip) != 1) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

void ftps_tls_free(struct ftps_tls *tls) {
  if (tls == NULL) {
    return;
  }

  /* OpenSSL drops the session from the cache when a connection ends
   * without close_notify.  A data connection shares the control session:
   * one aborted transfer would otherwise force full handshakes (refused)
   * on every later data connection of a session-ID client. */
  if (tls->kind != FTPS_TLS_CTRL &&
      tls->ssl != NULL) {
    SSL_set_shutdown(tls->ssl, SSL_SENT_SHUTDOWN|SSL_RECEIVED_SHUTDOWN);
  }
  SSL_free(tls->ssl);
  free(tls);
}

/* fail - record why a call failed, set errno and return -1 */
static int fail(struct ftps_tls *tls, int xerrno, const char *what) {
  char reasons[FTPS_ERROR_MAX];

  ftps_error_ssl_reasons(reasons, sizeof(reasons));
  snprintf(tls->reason, sizeof(tls->reason), "%.100s%s%.300s%s", what,
    reasons[0] != '\0' ? ": " : "", reasons,
    tls->refused_reneg ? reneg_note : "");
  errno = xerrno;
  return -1;
}

/* classify - turn a failed SSL_* call into errno (see ftps/tls.h).  An EOF
 * without close_notify is ECONNRESET: for a data channel it means the
 * transfer may be truncated, and must be reported as failed. */
static int classify(struct ftps_tls *tls, int rc, int *want,
    const char *what) {
  int ssl_err = SSL_get_error(tls->ssl, rc);
  int xerrno = errno;
  unsigned long code;

  switch (ssl_err) {
    case SSL_ERROR_WANT_READ:
      if (ftps_eofguard_hit(SSL_get_rbio(tls->ssl))) {
        tls->failed = 1;
        ERR_clear_error();
        return fail(tls, ECONNRESET, "connection closed without close_notify");
      }
      *want = FTPS_WANT_READ;
      errno = EAGAIN;
      return -1;

    case SSL_ERROR_WANT_WRITE:
      *want = FTPS_WANT_WRITE;
      errno = EAGAIN;
      return -1;

    case SSL_ERROR_ZERO_RETURN:
      return fail(tls, ECONNRESET, "peer closed the TLS session");

    case SSL_ERROR_SYSCALL:
      tls->failed = 1;
      if (xerrno == 0 || xerrno == EAGAIN) {
        return fail(tls, ECONNRESET, "connection closed without close_notify");
      }
      snprintf(tls->reason, sizeof(tls->reason), "%s: %s%s", what,
        strerror(xerrno), tls->refused_reneg ? reneg_note : "");
      ERR_clear_error();
      errno = xerrno;
      return -1;

    case SSL_ERROR_SSL:
    default:
      tls->failed = 1;
      code = ERR_peek_last_error();
      if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
          ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return fail(tls, ECONNRESET, "connection closed without close_notify");
      }
      return fail(tls, EPROTO, what);
  }
}

int ftps_tls_handshake(struct ftps_tls *tls, int *want,
    struct ftps_error *err) {
  int rc;

  if (tls == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }

  ERR_clear_error();
  errno = 0;
  rc = SSL_do_handshake(tls->ssl);
  if (rc == 1) {
    /* OpenSSL does not flush after a server's last flight (a TLS 1.2
     * Finished): what the coalescing BIO holds must reach the client
     * before the handshake counts as done, also when the connection is
     * then refused. */
    if (ftps_tls_flush(tls, want) < 0) {
      if (errno != EAGAIN) {
        ftps_error_set(err, "%s", tls->reason);
      }
      return -1;
    }

    if ((SSL_get_options(tls->ssl) & SSL_OP_ENABLE_KTLS) &&
        !ftps_tls_kernel_recv(tls)) {
      SSL_set_read_ahead(tls->ssl, 1);
    }

    if (tls->kind == FTPS_TLS_CTRL &&
        ftps_binding_mark_ctrl(tls->ssl) < 0) {
      fail(tls, ENOMEM, "cannot bind the control session");
      ftps_error_set(err, "%s", tls->reason);
      errno = ENOMEM;
      return -1;
    }
    return 0;
  }

  if (classify(tls, rc, want, "TLS handshake failed") < 0 &&
      errno != EAGAIN) {
    int xerrno = errno;
    long verify = SSL_get_verify_result(tls->ssl);

    /* A refused certificate: say why, not only "verify failed".  The
     * reason goes into tls->reason itself, which is what callers stepping
     * without err (netio's handshake loop) report. */
    if (verify != X509_V_OK) {
      size_t len = strlen(tls->reason);

      snprintf(tls->reason + len, sizeof(tls->reason) - len,
        " (certificate: %s)", X509_verify_cert_error_string(verify));
    }
    ftps_error_set(err, "%s", tls->reason);
    errno = xerrno;
  }
  return -1;
}

ssize_t ftps_tls_read(struct ftps_tls *tls, void *buf, size_t len,
    int *want) {
  int rc;

  if (tls == NULL || buf == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (len > INT_MAX) {
    len = INT_MAX;
  }

  ERR_clear_error();
  errno = 0;
  rc = SSL_read(tls->ssl, buf, (int) len);
  if (rc > 0) {
    return rc;
  }

  if (SSL_get_error(tls->ssl, rc) == SSL_ERROR_ZERO_RETURN) {
    /* close_notify: the only clean end of a TLS stream. */
    return 0;
  }

  return classify(tls, rc, want, "TLS read failed");
}

ssize_t ftps_tls_write(struct ftps_tls *tls, const void *buf, size_t len,
    int *want) {
  int rc;

  if (tls == NULL || buf == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (len == 0) {
    return 0;
  }
  if (len > INT_MAX) {
    len = INT_MAX;
  }

  ERR_clear_error();
  errno = 0;
  rc = SSL_write(tls->ssl, buf, (int) len);
  if (rc > 0) {
    return rc;
  }

  return classify(tls, rc, want, "TLS write failed");
}

int ftps_tls_flush(struct ftps_tls *tls, int *want) {
  BIO *wbio;

  if (tls == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }

  wbio = SSL_get_wbio(tls->ssl);
  if (wbio == NULL ||
      BIO_wpending(wbio) <= 0) {
    return 0;
  }

  errno = 0;
  if (BIO_flush(wbio) > 0) {
    return 0;
  }

  if (BIO_should_retry(wbio)) {
    *want = FTPS_WANT_WRITE;
    errno = EAGAIN;
    return -1;
  }

  tls->failed = 1;
  return fail(tls, errno != 0 ? errno : EPIPE, "TLS write failed");
}

int ftps_tls_shutdown(struct ftps_tls *tls, int *want) {
  int rc;

  if (tls == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (tls->shutdown_sent) {
    /* OpenSSL flushes the alert itself, but ignores a flush that would
     * block: what is still held goes out now. */
    return ftps_tls_flush(tls, want);
  }

  /* OpenSSL forbids SSL_shutdown after a fatal error; and an aborted
   * stream must not end with close_notify, which would say "complete". */
  if (tls->failed) {
    errno = EPIPE;
    return -1;
  }

  ERR_clear_error();
  errno = 0;
  rc = SSL_shutdown(tls->ssl);
  if (rc >= 0) {
    /* 0: our close_notify is sent; the peer's is not awaited: it is the
     * sender's close_notify that marks the end of the data. */
    tls->shutdown_sent = 1;
    return ftps_tls_flush(tls, want);
  }

  return classify(tls, rc, want, "TLS shutdown failed");
}

int ftps_tls_close(struct ftps_tls *tls, int *want) {
  int rc;

  if (ftps_tls_shutdown(tls, want) < 0) {
    return -1;
  }

  /* Ours is sent; now SSL_shutdown waits for the peer's. */
  ERR_clear_error();
  errno = 0;
  rc = SSL_shutdown(tls->ssl);
  if (rc == 1) {
    return 0;
  }
  if (rc == 0) {
    *want = FTPS_WANT_READ;
    errno = EAGAIN;
    return -1;
  }

  return classify(tls, rc, want, "TLS closure failed");
}

/* drained_record - after our close_notify, OpenSSL discards each record
 * it reads that is not an alert and returns 0 with an empty error queue
 * (a failing read returns -1, and the EOF guard keeps the end of the
 * stream from OpenSSL): one record gone, read on */
static int drained_record(struct ftps_tls *tls, int rc) {
  return rc == 0 &&
    ERR_peek_error() == 0 &&
    SSL_get_error(tls->ssl, rc) == SSL_ERROR_SYSCALL &&
    !ftps_eofguard_hit(SSL_get_rbio(tls->ssl));
}

int ftps_tls_drain(struct ftps_tls *tls, int *want) {
  char scrap[4096];
  int rc, rounds;

  if (tls == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (!tls->shutdown_sent || tls->failed) {
    errno = EPIPE;
    return -1;
  }

  /* Bounded, so that a peer that never stops sending cannot keep the
   * caller from its deadline; the caller's wait then finds the socket
   * readable at once. */
  for (rounds = 0; rounds < 1024; rounds++) {
    ERR_clear_error();
    errno = 0;
    rc = SSL_read(tls->ssl, scrap, (int) sizeof(scrap));
    if (rc > 0 ||
        drained_record(tls, rc)) {
      continue;
    }

    if (SSL_get_error(tls->ssl, rc) == SSL_ERROR_ZERO_RETURN ||
        (SSL_get_shutdown(tls->ssl) & SSL_RECEIVED_SHUTDOWN)) {
      /* The peer's close_notify: after it, only its FIN can follow. */
      return 0;
    }
    if (SSL_get_error(tls->ssl, rc) == SSL_ERROR_WANT_READ &&
        ftps_eofguard_hit(SSL_get_rbio(tls->ssl))) {
      /* The peer closed its side: nothing more will come. */
      ERR_clear_error();
      return 0;
    }
    return classify(tls, rc, want, "TLS closure failed");
  }

  *want = FTPS_WANT_READ;
  errno = EAGAIN;
  return -1;
}

int ftps_tls_new_ticket(struct ftps_tls *tls) {
  if (tls == NULL) {
    errno = EINVAL;
    return -1;
  }

  if (SSL_version(tls->ssl) != TLS1_3_VERSION) {
    return 0;
  }

  ERR_clear_error();
  if (SSL_new_session_ticket(tls->ssl) != 1) {
    fail(tls, EPROTO, "cannot issue a session ticket");
    return -1;
  }
  return 0;
}

/* send_post_handshake - write out a queued post-handshake message (a
 * ticket, a KeyUpdate): it puts the connection back "in init", and the
 * handshake machinery sends it without application data.  0, or -1 as
 * classify() says. */
static int send_post_handshake(struct ftps_tls *tls, int *want,
    const char *what) {
  int rc;

  errno = 0;
  rc = SSL_do_handshake(tls->ssl);
  if (rc == 1) {
    return ftps_tls_flush(tls, want);
  }
  return classify(tls, rc, want, what);
}

int ftps_tls_send_queued(struct ftps_tls *tls, int *want) {
  if (tls == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (tls->failed || tls->shutdown_sent) {
    errno = EPIPE;
    return -1;
  }

  ERR_clear_error();
  return send_post_handshake(tls, want, "cannot send a session ticket");
}

int ftps_tls_key_update(struct ftps_tls *tls, int both, int *want) {
  if (tls == NULL || want == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (SSL_version(tls->ssl) != TLS1_3_VERSION) {
    snprintf(tls->reason, sizeof(tls->reason), "%s keys are never "
      "renegotiated (TLSRenegotiate applies to TLS 1.3)",
      SSL_get_version(tls->ssl));
    errno = ENOTSUP;
    return -1;
  }

  /* OpenSSL 3.0 does not hand new keys to the kernel (tls13_update_key
   * renews only its own cipher state): after a KeyUpdate the kernel would
   * go on with the old keys, and the peer could decrypt nothing more. */
  if (ftps_tls_kernel_send(tls)) {
    snprintf(tls->reason, sizeof(tls->reason), "kernel TLS keys are not "
      "updated (TLSRenegotiate data needs user-space TLS: FTPSKernelTLS "
      "off)");
    errno = ENOTSUP;
    return -1;
  }
  if (tls->failed || tls->shutdown_sent) {
    errno = EPIPE;
    return -1;
  }

  ERR_clear_error();
  if (!tls->key_update_started) {
    /* "Requested" asks the peer to update its sending keys too (RFC 8446
     * section 4.6.3): it answers with a KeyUpdate of its own. */
    if (SSL_key_update(tls->ssl, both ? SSL_KEY_UPDATE_REQUESTED :
        SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
      return fail(tls, EPROTO, "cannot schedule a key update");
    }
    tls->key_update_started = 1;
  }

  /* Sends the KeyUpdate now, where the caller decided the keys are due,
   * rather than with whatever write comes next. */
  if (send_post_handshake(tls, want, "TLS key update failed") < 0) {
    return -1;
  }
  tls->key_update_started = 0;
  return 0;
}

int ftps_tls_read_ready(const struct ftps_tls *tls) {
  return tls != NULL &&
    (ftps_tls_pending(tls) > 0 ||
     SSL_has_pending(tls->ssl) == 1 ||
     (SSL_get_shutdown(tls->ssl) & SSL_RECEIVED_SHUTDOWN) ||
     tls->failed);
}

int ftps_tls_pending(const struct ftps_tls *tls) {
  return tls != NULL ? SSL_pending(tls->ssl) : 0;
}

const char *ftps_tls_error(const struct ftps_tls *tls) {
  return tls != NULL ? tls->reason : "";
}

int ftps_tls_fd(const struct ftps_tls *tls) {
  return tls != NULL ? tls->fd : -1;
}

SSL *ftps_tls_ssl(const struct ftps_tls *tls) {
  return tls != NULL ? tls->ssl : NULL;
}

int ftps_tls_resumed(const struct ftps_tls *tls) {
  return tls != NULL ? SSL_session_reused(tls->ssl) : 0;
}

long ftps_tls_session_lifetime(const struct ftps_tls *tls) {
  SSL_SESSION *sess = tls != NULL ? SSL_get0_session(tls->ssl) : NULL;

  return sess != NULL ? SSL_SESSION_get_timeout(sess) : 0;
}

const char *ftps_tls_server_name(const struct ftps_tls *tls) {
  const char *name;

  if (tls == NULL) {
    return "";
  }
  name = SSL_get_servername(tls->ssl, TLSEXT_NAMETYPE_host_name);
  return name != NULL ? name : "";
}

const char *ftps_tls_library(void) {
  return OpenSSL_version(OPENSSL_VERSION);
}

const char *ftps_tls_protocol(const struct ftps_tls *tls) {
  return tls != NULL ? SSL_get_version(tls->ssl) : "";
}

const char *ftps_tls_cipher(const struct ftps_tls *tls) {
  const SSL_CIPHER *cipher;

  if (tls == NULL) {
    return "";
  }
  cipher = SSL_get_current_cipher(tls->ssl);
  return cipher != NULL ? SSL_CIPHER_get_name(cipher) : "";
}

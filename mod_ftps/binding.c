/*
 * binding.c - tie data connections to this FTP session's control session
 * (see ftps/binding.h for the reasoning).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ftps/binding.h"

#define BINDING_KIND_CTRL   0x1
#define BINDING_KIND_DATA   0x2

static unsigned char token[FTPS_BINDING_LEN];
static int ex_index = -1;

/* ssl_state - the BINDING_* bits stored on ssl */
static uintptr_t ssl_state(const SSL *ssl) {
  if (ex_index < 0) {
    return 0;
  }
  return (uintptr_t) SSL_get_ex_data(ssl, ex_index);
}

/* ssl_state_add - OR bits into ssl's BINDING_* state */
static int ssl_state_add(SSL *ssl, uintptr_t bits) {
  if (ex_index < 0) {
    errno = EINVAL;
    return -1;
  }
  if (SSL_set_ex_data(ssl, ex_index, (void *) (ssl_state(ssl) | bits)) != 1) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

/* session_has_token - 1 if sess carries this process's token */
static int session_has_token(const SSL_SESSION *sess) {
  void *data = NULL;
  size_t len = 0;

  if (sess == NULL ||
      SSL_SESSION_get0_ticket_appdata((SSL_SESSION *) sess, &data,
        &len) != 1) {
    return 0;
  }

  return len == sizeof(token) &&
    CRYPTO_memcmp(data, token, sizeof(token)) == 0;
}

/* ticket_gen_cb - stamp the token on every ticket we issue */
static int ticket_gen_cb(SSL *ssl, void *arg) {
  SSL_SESSION *sess = SSL_get0_session(ssl);

  (void) arg;
  if (sess == NULL) {
    return 1;
  }
  return SSL_SESSION_set1_ticket_appdata(sess, token, sizeof(token));
}

/* ticket_dec_cb - decide how a ticket the client presents is used.  sess
 * is NULL unless the ticket decrypted (proftpd#1063 crashed on that). */
static SSL_TICKET_RETURN ticket_dec_cb(SSL *ssl, SSL_SESSION *sess,
    const unsigned char *keyname, size_t keyname_len,
    SSL_TICKET_STATUS status, void *arg) {
  uintptr_t state = ssl_state(ssl);

  (void) sess;
  (void) keyname;
  (void) keyname_len;
  (void) arg;

  switch (status) {
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT:
      /* A full handshake: on a data connection it is refused later, and
       * no ticket is worth issuing there. */
      return (state & BINDING_KIND_DATA) ? SSL_TICKET_RETURN_IGNORE :
        SSL_TICKET_RETURN_IGNORE_RENEW;

    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
      /* Never issue tickets on data connections (proftpd#959); whether
       * the ticket carries our token is checked after the handshake, on
       * the session actually resumed. */
      if (state & BINDING_KIND_DATA) {
        return SSL_TICKET_RETURN_USE;
      }

      /* A control connection that resumed a ticket (perhaps another FTP
       * session's): renew it, so that the client holds tickets stamped
       * with our token for its data connections.  OpenSSL 3.0 issues new
       * TLS 1.3 tickets after a resumption only when asked to. */
      return SSL_TICKET_RETURN_USE_RENEW;

    default:
      return SSL_TICKET_RETURN_ABORT;
  }
}

int ftps_binding_install(SSL_CTX *ctx, struct ftps_error *err) {
  if (ctx == NULL) {
    errno = EINVAL;
    return -1;
  }

  if (ex_index < 0) {
    ex_index = SSL_get_ex_new_index(0, "mod_ftps binding", NULL, NULL, NULL);
    if (ex_index < 0) {
      ftps_error_set_ssl(err, "cannot allocate SSL ex_data index");
      errno = ENOMEM;
      return -1;
    }
  }

  if (SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, ticket_dec_cb,
      NULL) != 1) {
    ftps_error_set_ssl(err, "cannot set session ticket callbacks");
    errno = EINVAL;
    return -1;
  }

  return 0;
}

int ftps_binding_renew(void) {
  if (RAND_bytes(token, sizeof(token)) != 1) {
    errno = EIO;
    return -1;
  }
  return 0;
}

int ftps_binding_mark_ctrl(SSL *ssl) {
  SSL_SESSION *sess;

  if (ssl == NULL) {
    errno = EINVAL;
    return -1;
  }

  /* The session may be in the internal cache already: stamping it here
   * also covers TLS 1.2 clients that resume by session ID. */
  sess = SSL_get0_session(ssl);
  if (sess != NULL &&
      SSL_SESSION_set1_ticket_appdata(sess, token, sizeof(token)) != 1) {
    errno = ENOMEM;
    return -1;
  }

  return ssl_state_add(ssl, BINDING_KIND_CTRL);
}

int ftps_binding_mark_data(SSL *ssl) {
  if (ssl == NULL) {
    errno = EINVAL;
    return -1;
  }
  return ssl_state_add(ssl, BINDING_KIND_DATA);
}

int ftps_binding_is_data(const SSL *ssl) {
  return ssl != NULL && (ssl_state(ssl) & BINDING_KIND_DATA) != 0;
}

int ftps_binding_verify(SSL *ssl, struct ftps_error *err) {
  if (ssl == NULL) {
    errno = EINVAL;
    return -1;
  }

  if (!SSL_session_reused(ssl)) {
    ftps_error_set(err, "the data connection did not resume the control "
      "connection's TLS session");
    errno = EPERM;
    return -1;
  }

  if (session_has_token(SSL_get0_session(ssl))) {
    return 0;
  }

  ftps_error_set(err, "the data connection resumed a TLS session that "
    "belongs to another FTP session");
  errno = EPERM;
  return -1;
}

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
#include "ftps/verify.h"

#define BINDING_KIND_CTRL   0x1
#define BINDING_KIND_DATA   0x2

/* What a ticket (or cached session) carries as its application data: the
 * FTP session's token, then the scope of the SSL_CTX (the vhost) whose
 * settings authenticated it. */
#define BINDING_SCOPE_LEN   FTPS_BINDING_SCOPE_LEN
#define BINDING_STAMP_LEN   (FTPS_BINDING_LEN + BINDING_SCOPE_LEN)

static unsigned char token[FTPS_BINDING_LEN];

/* What this file keeps on OpenSSL's objects goes in their "app data" slot
 * (ex_data index 0, reserved by OpenSSL, used by nothing else here): no
 * index to register.  This DSO is unloaded and loaded again at every
 * restart, and a registered index would be registered anew each time,
 * growing libcrypto's tables (and the master) with every restart.  The SSL
 * carries its BINDING_KIND_* bits; the SSL_CTX its vhost scope. */

/* The scopes, freed together by ftps_binding_release(), not by a free
 * function on an index: libcrypto would call such a function, the code of
 * an unloaded DSO after a restart, for every SSL_CTX freed afterwards. */
struct scope {
  struct scope *next;
  unsigned char bytes[BINDING_SCOPE_LEN];
};

static struct scope *scopes = NULL;

/* scope_of - the scope of the context ssl uses now (after an SNI switch:
 * the vhost's), or NULL */
static const unsigned char *scope_of(const SSL *ssl) {
  const struct scope *sc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

  return sc != NULL ? sc->bytes : NULL;
}

/* scope_new - give ctx a random scope of its own, once */
static int scope_new(SSL_CTX *ctx) {
  struct scope *sc;

  if (SSL_CTX_get_app_data(ctx) != NULL) {
    return 0;
  }

  sc = OPENSSL_malloc(sizeof(*sc));
  if (sc == NULL) {
    return -1;
  }
  if (RAND_bytes(sc->bytes, BINDING_SCOPE_LEN) != 1 ||
      SSL_CTX_set_app_data(ctx, sc) != 1) {
    OPENSSL_free(sc);
    return -1;
  }
  sc->next = scopes;
  scopes = sc;
  return 0;
}

void ftps_binding_release(void) {
  while (scopes != NULL) {
    struct scope *sc = scopes;

    scopes = sc->next;
    OPENSSL_free(sc);
  }
}

void ftps_binding_forget(SSL_CTX *ctx) {
  struct scope *sc, **link;

  if (ctx == NULL ||
      (sc = SSL_CTX_get_app_data(ctx)) == NULL) {
    return;
  }
  for (link = &scopes; *link != NULL; link = &(*link)->next) {
    if (*link == sc) {
      *link = sc->next;
      (void) SSL_CTX_set_app_data(ctx, NULL);
      OPENSSL_free(sc);
      return;
    }
  }
}

/* stamp - stamp sess with our token and the scope of ssl's context: 1, or
 * 0 (a context without a scope, or no memory) */
static int stamp(SSL *ssl, SSL_SESSION *sess) {
  unsigned char data[BINDING_STAMP_LEN];
  const unsigned char *scope = scope_of(ssl);

  if (scope == NULL) {
    return 0;
  }
  memcpy(data, token, FTPS_BINDING_LEN);
  memcpy(data + FTPS_BINDING_LEN, scope, BINDING_SCOPE_LEN);
  return SSL_SESSION_set1_ticket_appdata(sess, data, sizeof(data));
}

/* session_stamp - sess's stamp, or NULL when it has none of ours */
static const unsigned char *session_stamp(const SSL_SESSION *sess) {
  void *data = NULL;
  size_t len = 0;

  if (sess == NULL ||
      SSL_SESSION_get0_ticket_appdata((SSL_SESSION *) sess, &data,
        &len) != 1 ||
      len != BINDING_STAMP_LEN) {
    return NULL;
  }
  return data;
}

/* same_scope - 1 if sess was authenticated under the context ssl uses
 * now: a session never carries one vhost's client-certificate checks
 * into another (RFC 6066 section 3: a server resumes only for the same
 * name, else it makes a full handshake) */
static int same_scope(const SSL *ssl, const SSL_SESSION *sess) {
  const unsigned char *data = session_stamp(sess);
  const unsigned char *scope = scope_of(ssl);

  return data != NULL &&
    scope != NULL &&
    CRYPTO_memcmp(data + FTPS_BINDING_LEN, scope, BINDING_SCOPE_LEN) == 0;
}

/* ssl_state - the BINDING_* bits stored on ssl */
static uintptr_t ssl_state(const SSL *ssl) {
  return (uintptr_t) SSL_get_app_data(ssl);
}

/* ssl_state_add - OR bits into ssl's BINDING_* state */
static int ssl_state_add(SSL *ssl, uintptr_t bits) {
  if (SSL_set_app_data(ssl, (void *) (ssl_state(ssl) | bits)) != 1) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

/* session_has_token - 1 if sess carries this process's token */
static int session_has_token(const SSL_SESSION *sess) {
  const unsigned char *data = session_stamp(sess);

  return data != NULL &&
    CRYPTO_memcmp(data, token, sizeof(token)) == 0;
}

/* ticket_gen_cb - stamp the token and the vhost scope on every ticket we
 * issue */
static int ticket_gen_cb(SSL *ssl, void *arg) {
  SSL_SESSION *sess = SSL_get0_session(ssl);

  (void) arg;
  if (sess == NULL) {
    return 1;
  }
  return stamp(ssl, sess);
}

/* ticket_dec_cb - decide how a ticket the client presents is used.  sess
 * is NULL unless the ticket decrypted (proftpd#1063 crashed on that). */
static SSL_TICKET_RETURN ticket_dec_cb(SSL *ssl, SSL_SESSION *sess,
    const unsigned char *keyname, size_t keyname_len,
    SSL_TICKET_STATUS status, void *arg) {
  uintptr_t state = ssl_state(ssl);

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
      /* A ticket from another vhost (all vhosts share the ticket keys,
       * ticketkeys.h; the SNI switch in the ClientHello callback has run
       * by now): a full handshake under the chosen vhost's settings
       * instead. */
      if (!same_scope(ssl, sess)) {
        return (state & BINDING_KIND_DATA) ? SSL_TICKET_RETURN_IGNORE :
          SSL_TICKET_RETURN_IGNORE_RENEW;
      }

      /* A client certificate revoked or distrusted since the ticket was
       * issued (a CRL put in TLSCARevocationPath, a CA taken out of
       * TLSCACertificatePath: no restart needed): a full handshake, which
       * judges it. */
      if (!(state & BINDING_KIND_DATA) &&
          ftps_verify_session_stale(ssl, sess)) {
        return SSL_TICKET_RETURN_IGNORE_RENEW;
      }

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

  if (scope_new(ctx) < 0) {
    ftps_error_set_ssl(err, "cannot give the context its session scope");
    errno = ENOMEM;
    return -1;
  }

  if (SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, ticket_dec_cb,
      NULL) != 1) {
    ftps_error_set_ssl(err, "cannot set session ticket callbacks");
    errno = EINVAL;
    return -1;
  }

  return 0;
}

int ftps_binding_set_scope(SSL_CTX *ctx, const unsigned char *scope) {
  struct scope *mine;

  if (ctx == NULL || scope == NULL ||
      (mine = SSL_CTX_get_app_data(ctx)) == NULL) {
    errno = EINVAL;
    return -1;
  }
  memcpy(mine->bytes, scope, BINDING_SCOPE_LEN);
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

  /* The ticket callback turns a ticket from another vhost into a full
   * handshake; should any resumption get past it (a session this check
   * does not know), the connection ends rather than carry another vhost's
   * authentication. */
  sess = SSL_get0_session(ssl);
  if (SSL_session_reused(ssl) &&
      !same_scope(ssl, sess)) {
    errno = EPERM;
    return -1;
  }

  /* The session may be in the internal cache already: stamping it here
   * also covers TLS 1.2 clients that resume by session ID. */
  if (sess != NULL &&
      stamp(ssl, sess) != 1) {
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

  if (!session_has_token(SSL_get0_session(ssl))) {
    ftps_error_set(err, "the data connection resumed a TLS session that "
      "belongs to another FTP session");
    errno = EPERM;
    return -1;
  }

  if (!same_scope(ssl, SSL_get0_session(ssl))) {
    ftps_error_set(err, "the data connection resumed a TLS session that "
      "another vhost authenticated");
    errno = EPERM;
    return -1;
  }
  return 0;
}

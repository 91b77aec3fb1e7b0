/*
 * context.c - the SSL_CTX of one server, built once at startup
 * (ftps/context.h).
 */
#include <errno.h>
#include <string.h>

#include "ftps/binding.h"
#include "ftps/config.h"
#include "ftps/context.h"

/* mod_tls's default lifetime, so that long FTP sessions keep resuming. */
#define CONTEXT_SESSION_TIMEOUT 15840L

/* What the session-ID cache and tickets are scoped to: a session from
 * another application on the same certificate must not resume here. */
static const unsigned char session_id_ctx[] = "mod_ftps";

void ftps_context_props_init(struct ftps_context_props *props) {
  memset(props, 0, sizeof(*props));
  props->protocols = FTPS_PROTO_DEFAULT;
  props->server_preference = 1;
}

/* proto_version - the OpenSSL version constant for one FTPS_PROTO_ bit */
static int proto_version(unsigned int bit) {
  switch (bit) {
    case FTPS_PROTO_TLSV1:   return TLS1_VERSION;
    case FTPS_PROTO_TLSV1_1: return TLS1_1_VERSION;
    case FTPS_PROTO_TLSV1_2: return TLS1_2_VERSION;
    default:                 return TLS1_3_VERSION;
  }
}

/* set_protocols - a min/max range, with the versions in between that are
 * not wanted switched off (e.g. "TLSv1 TLSv1.2") */
static int set_protocols(SSL_CTX *ctx, unsigned int protos,
    struct ftps_error *err) {
  static const struct {
    unsigned int bit;
    unsigned long op;
  } holes[] = {
    { FTPS_PROTO_TLSV1,   SSL_OP_NO_TLSv1 },
    { FTPS_PROTO_TLSV1_1, SSL_OP_NO_TLSv1_1 },
    { FTPS_PROTO_TLSV1_2, SSL_OP_NO_TLSv1_2 },
    { FTPS_PROTO_TLSV1_3, SSL_OP_NO_TLSv1_3 },
  };
  unsigned int lowest = 0, highest = 0, bit;
  size_t i;

  for (bit = FTPS_PROTO_TLSV1; bit <= FTPS_PROTO_TLSV1_3; bit <<= 1) {
    if (protos & bit) {
      if (lowest == 0) {
        lowest = bit;
      }
      highest = bit;
    }
  }

  if (lowest == 0) {
    ftps_error_set(err, "no protocol version enabled");
    errno = EINVAL;
    return -1;
  }

  if (SSL_CTX_set_min_proto_version(ctx, proto_version(lowest)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, proto_version(highest)) != 1) {
    ftps_error_set_ssl(err, "cannot set the protocol range");
    errno = EINVAL;
    return -1;
  }

  for (i = 0; i < sizeof(holes) / sizeof(holes[0]); i++) {
    if (holes[i].bit > lowest &&
        holes[i].bit < highest &&
        !(protos & holes[i].bit)) {
      SSL_CTX_set_options(ctx, holes[i].op);
    }
  }

  return 0;
}

/* set_ciphers - both cipher lists; *what names the one that failed */
static int set_ciphers(SSL_CTX *ctx, const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  const char *ciphers = props->ciphers ? props->ciphers : FTPS_CIPHERS_DEFAULT;
  const char *suites = props->ciphersuites ? props->ciphersuites :
    FTPS_CIPHERSUITES_DEFAULT;

  if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
    ftps_error_set_ssl(err, "no usable cipher in '%s'", ciphers);
    *what = FTPS_CONTEXT_ERR_CIPHERS;
    errno = EINVAL;
    return -1;
  }

  if (SSL_CTX_set_ciphersuites(ctx, suites) != 1) {
    ftps_error_set_ssl(err, "no usable TLSv1.3 ciphersuite in '%s'", suites);
    *what = FTPS_CONTEXT_ERR_CIPHERSUITES;
    errno = EINVAL;
    return -1;
  }

  /* DHE suites need a group; let OpenSSL pick one that matches the key. */
  SSL_CTX_set_dh_auto(ctx, 1);
  return 0;
}

/* set_keypairs - install each certificate with its key and chain */
static int set_keypairs(SSL_CTX *ctx, const struct ftps_context_props *props,
    int *what, int *index, struct ftps_error *err) {
  int i;

  for (i = 0; i < props->nkeypairs && i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
    const struct ftps_keypair *kp = props->keypairs[i];

    if (kp == NULL || kp->cert == NULL || kp->key == NULL) {
      ftps_error_set(err, "a certificate and its private key are needed");
      *what = FTPS_CONTEXT_ERR_KEYPAIR;
      *index = i;
      errno = EINVAL;
      return -1;
    }

    /* The chain is the rest of the certificate file (plus any chain file),
     * so a fullchain.pem needs no separate TLSCertificateChainFile. */
    if (SSL_CTX_use_cert_and_key(ctx, kp->cert, kp->key, kp->chain,
        1) != 1) {
      ftps_error_set_ssl(err, "cannot use the certificate and key");
      *what = FTPS_CONTEXT_ERR_KEYPAIR;
      *index = i;
      errno = EINVAL;
      return -1;
    }
  }

  return 0;
}

/* set_sessions - session cache, tickets and their binding to FTP sessions */
static int set_sessions(SSL_CTX *ctx, const struct ftps_context_props *props,
    struct ftps_error *err) {
  if (SSL_CTX_set_session_id_context(ctx, session_id_ctx,
      sizeof(session_id_ctx) - 1) != 1) {
    ftps_error_set_ssl(err, "cannot set the session ID context");
    errno = EINVAL;
    return -1;
  }

  /* The lifetime of cached sessions, and of tickets (RFC 8446 section
   * 4.6.1 lifetime hint). */
  SSL_CTX_set_timeout(ctx, props->session_timeout > 0 ?
    props->session_timeout : CONTEXT_SESSION_TIMEOUT);

  if (props->session_cache_off) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);

  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  }

  return ftps_binding_install(ctx, err);
}

/* context_base - what server and client contexts share: protocols,
 * ciphers, our certificates, CA certificates */
static SSL_CTX *context_base(const SSL_METHOD *method,
    const struct ftps_context_props *props, int *what, int *index,
    struct ftps_error *err) {
  SSL_CTX *ctx;
  uint64_t opts;

  ctx = SSL_CTX_new(method);
  if (ctx == NULL) {
    ftps_error_set_ssl(err, "cannot create an SSL_CTX");
    errno = ENOMEM;
    return NULL;
  }

  /* Renegotiation only serves attacks on a file-transfer protocol; and an
   * unexpected EOF must stay an error, so truncation is detected. */
  opts = SSL_OP_NO_RENEGOTIATION|SSL_OP_NO_COMPRESSION;
  if (props->server_preference) {
    opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  }
  SSL_CTX_set_options(ctx, opts);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  if (set_protocols(ctx, props->protocols ? props->protocols :
      FTPS_PROTO_DEFAULT, err) < 0) {
    *what = FTPS_CONTEXT_ERR_PROTOCOLS;
    goto err;
  }

  if (set_ciphers(ctx, props, what, err) < 0 ||
      set_keypairs(ctx, props, what, index, err) < 0) {
    goto err;
  }

  if (props->groups != NULL &&
      SSL_CTX_set1_groups_list(ctx, props->groups) != 1) {
    ftps_error_set_ssl(err, "no usable group in '%s'", props->groups);
    *what = FTPS_CONTEXT_ERR_GROUPS;
    errno = EINVAL;
    goto err;
  }

  if (props->ca_file != NULL &&
      SSL_CTX_load_verify_file(ctx, props->ca_file) != 1) {
    ftps_error_set_ssl(err, "cannot load CA certificates");
    *what = FTPS_CONTEXT_ERR_CA_FILE;
    errno = EINVAL;
    goto err;
  }

  return ctx;

err:
  SSL_CTX_free(ctx);
  return NULL;
}

SSL_CTX *ftps_context_new(const struct ftps_context_props *props,
    int *what, int *index, struct ftps_error *err) {
  SSL_CTX *ctx;
  int dummy_what = 0, dummy_index = 0;

  if (props == NULL) {
    errno = EINVAL;
    return NULL;
  }
  what = what ? what : &dummy_what;
  index = index ? index : &dummy_index;
  *what = FTPS_CONTEXT_ERR_OTHER;
  *index = 0;

  ctx = context_base(TLS_server_method(), props, what, index, err);
  if (ctx == NULL) {
    return NULL;
  }

  if (set_sessions(ctx, props, err) < 0) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

SSL_CTX *ftps_context_new_client(const struct ftps_context_props *props,
    int verify, struct ftps_error *err) {
  SSL_CTX *ctx;
  int what = 0, index = 0;

  if (props == NULL) {
    errno = EINVAL;
    return NULL;
  }

  ctx = context_base(TLS_client_method(), props, &what, &index, err);
  if (ctx == NULL) {
    return NULL;
  }

  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (props->ca_file == NULL &&
        SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ftps_error_set_ssl(err, "cannot load the system CA certificates");
      SSL_CTX_free(ctx);
      errno = EINVAL;
      return NULL;
    }
  }
  return ctx;
}

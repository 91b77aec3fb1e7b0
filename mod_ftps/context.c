/*
 * context.c - the SSL_CTX of one server, built once at startup
 * (ftps/context.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ftps/alpn.h"
#include "ftps/binding.h"
#include "ftps/config.h"
#include "ftps/context.h"
#include "ftps/verify.h"

/* mod_tls's default lifetime, so that long FTP sessions keep resuming. */
#define CONTEXT_SESSION_TIMEOUT 15840L

/* What the session-ID cache and tickets are scoped to: a session from
 * another application on the same certificate must not resume here. */
static const unsigned char session_id_ctx[] = "mod_ftps";

void ftps_context_props_init(struct ftps_context_props *props) {
  memset(props, 0, sizeof(*props));
  props->protocols = FTPS_PROTO_DEFAULT;
  props->server_preference = 1;
  props->tickets = 1;
  props->alpn = 1;
  props->verify_depth = -1;
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

  return 0;
}

/* read_dh - of the DH parameters in the file, the first set of at least
 * FTPS_DH_MIN_BITS (files such as Debian's dhparams.pem hold several sizes,
 * smallest first), else the largest; NULL with err set */
static EVP_PKEY *read_dh(const char *path, int allow_weak,
    struct ftps_error *err) {
  EVP_PKEY *best = NULL, *params;
  BIO *bio;

  ERR_clear_error();
  bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    ftps_error_set_ssl(err, "cannot open %s", path);
    return NULL;
  }

  while ((best == NULL || EVP_PKEY_get_bits(best) < FTPS_DH_MIN_BITS) &&
         (params = PEM_read_bio_Parameters(bio, NULL)) != NULL) {
    if (EVP_PKEY_get_base_id(params) != EVP_PKEY_DH ||
        (best != NULL &&
         EVP_PKEY_get_bits(params) <= EVP_PKEY_get_bits(best))) {
      EVP_PKEY_free(params);
      continue;
    }
    EVP_PKEY_free(best);
    best = params;
  }
  ERR_clear_error();
  BIO_free(bio);

  if (best == NULL) {
    ftps_error_set(err, "no DH parameters in %s", path);
    return NULL;
  }
  if (EVP_PKEY_get_bits(best) < FTPS_DH_MIN_BITS &&
      !allow_weak) {
    ftps_error_set(err, "the DH parameters in %s have only %d bits (at "
      "least %d are needed; TLSOptions AllowWeakDH allows fewer)", path,
      EVP_PKEY_get_bits(best), FTPS_DH_MIN_BITS);
    EVP_PKEY_free(best);
    return NULL;
  }
  return best;
}

/* set_dh - TLSDHParamFile, or a group matched to the key (the default) */
static int set_dh(SSL_CTX *ctx, const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  EVP_PKEY *dh;

  if (props->dh_file == NULL) {
    SSL_CTX_set_dh_auto(ctx, 1);
    return 0;
  }

  dh = read_dh(props->dh_file, props->allow_weak_dh, err);
  if (dh == NULL ||
      SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
    if (dh != NULL) {
      EVP_PKEY_free(dh);
      ftps_error_set_ssl(err, "cannot use the DH parameters in %s",
        props->dh_file);
    }
    *what = FTPS_CONTEXT_ERR_DH_FILE;
    errno = EINVAL;
    return -1;
  }
  return 0;
}

/* alpn_select_cb - the client's ALPN list (alpn.c decides): "ftp"
 * acknowledged under TLSNextProtocol on; a list without it ends the
 * handshake with no_application_protocol (RFC 7301 section 3.2, ALPACA)
 * unless TLSOptions AllowAnyALPN.  arg holds the FTPS_ALPN_* mode. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
    unsigned char *outlen, const unsigned char *in, unsigned int inlen,
    void *arg) {
  static const unsigned char ftp[] = FTPS_ALPN_FTP;

  (void) ssl;
  switch (ftps_alpn_decide(in, inlen, (unsigned int) (uintptr_t) arg)) {
    case FTPS_ALPN_SELECT:
      /* OpenSSL keeps a copy. */
      *out = ftp;
      *outlen = sizeof(ftp) - 1;
      return SSL_TLSEXT_ERR_OK;

    case FTPS_ALPN_NOACK:
      return SSL_TLSEXT_ERR_NOACK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* The security callback OpenSSL had before ours (its default policy). */
static int (*default_security_cb)(const SSL *, const SSL_CTX *, int, int,
  int, void *, void *) = NULL;

/* weak_dh_security_cb - OpenSSL's security policy, except that DH groups
 * of 1024 bits and more (80 bits of security, as OpenSSL counts them) pass
 * (TLSOptions AllowWeakDH): lowering the whole security level would let
 * small RSA keys and SHA-1 signatures in too. */
static int weak_dh_security_cb(const SSL *ssl, const SSL_CTX *ctx, int op,
    int bits, int nid, void *other, void *ex) {
  if ((op & ~SSL_SECOP_PEER) == SSL_SECOP_TMP_DH &&
      bits >= 80) {
    return 1;
  }
  return default_security_cb(ssl, ctx, op, bits, nid, other, ex);
}

/* allow_weak_dh - install weak_dh_security_cb in front of ctx's policy */
static void allow_weak_dh(SSL_CTX *ctx) {
  if (default_security_cb == NULL) {
    default_security_cb = SSL_CTX_get_security_callback(ctx);
  }
  if (default_security_cb != NULL) {
    SSL_CTX_set_security_callback(ctx, weak_dh_security_cb);
  }
}

/* below_security_level - is code OpenSSL's refusal of a key or signature
 * that the security level forbids? */
static int below_security_level(unsigned long code) {
  if (ERR_GET_LIB(code) != ERR_LIB_SSL) {
    return 0;
  }
  switch (ERR_GET_REASON(code)) {
    case SSL_R_EE_KEY_TOO_SMALL:
    case SSL_R_CA_KEY_TOO_SMALL:
    case SSL_R_CA_MD_TOO_WEAK:
      return 1;
  }
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
      /* OpenSSL names the weakness ("ee key too small"), not the way out:
       * the administrator must learn that it is a policy, and which
       * option relaxes it. */
      int weak = below_security_level(ERR_peek_last_error());

      ftps_error_set_ssl(err, "cannot use the certificate and key");
      if (weak) {
        size_t len = strlen(err->msg);

        snprintf(err->msg + len, sizeof(err->msg) - len, " (below OpenSSL's "
          "security level; TLSOptions AllowWeakSecurity allows it)");
      }
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

    /* One TLS 1.3 ticket after the control handshake, not OpenSSL's two:
     * it is for a later control connection; each data command gets its
     * own (see ftps_netio_ticket_before_data), and a ticket costs as much
     * to make as a resumption. */
    SSL_CTX_set_num_tickets(ctx, 1);

    /* TLSSessionTickets off: TLS <= 1.2 resumes by session ID only; with
     * SSL_OP_NO_TICKET, TLS 1.3 tickets become stateful references into
     * this process's cache (no cross-session resumption). */
    if (!props->tickets) {
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
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
  opts = SSL_OP_NO_COMPRESSION;
  opts |= props->client_renegotiation ? SSL_OP_ALLOW_CLIENT_RENEGOTIATION :
    SSL_OP_NO_RENEGOTIATION;
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

  /* AllowWeakSecurity: OpenSSL's security level 0 (small keys, SHA-1
   * signatures), for clients that cannot do better.  AllowWeakDH lets
   * smaller DH groups through, and nothing else. */
  if (props->weak_security) {
    SSL_CTX_set_security_level(ctx, 0);

  } else if (props->allow_weak_dh) {
    allow_weak_dh(ctx);
  }

  if (set_ciphers(ctx, props, what, err) < 0 ||
      set_keypairs(ctx, props, what, index, err) < 0) {
    goto err;
  }

  if (SSL_CTX_set1_groups_list(ctx, props->groups != NULL ?
      props->groups : FTPS_GROUPS_DEFAULT) != 1) {
    ftps_error_set_ssl(err, "no usable group in '%s'", props->groups != NULL ?
      props->groups : FTPS_GROUPS_DEFAULT);
    *what = FTPS_CONTEXT_ERR_GROUPS;
    errno = EINVAL;
    goto err;
  }

  if (props->ca_file != NULL &&
      SSL_CTX_load_verify_file(ctx, props->ca_file) != 1) {
    ftps_error_set_ssl(err, "cannot load CA certificates from %s",
      props->ca_file);
    *what = FTPS_CONTEXT_ERR_CA_FILE;
    errno = EINVAL;
    goto err;
  }

  return ctx;

err:
  SSL_CTX_free(ctx);
  return NULL;
}

/* chain_store - a throwaway store with what ctx's CA store holds (the
 * CA file's certificates) and TLSCACertificatePath, to build chains from:
 * what a lookup finds in a directory stays in the store it was made
 * through, and the master's served store is inherited by every session (a
 * CA taken out of the directory would stay trusted for client certificates
 * until a restart).  NULL without a directory: the served store then has
 * nothing to cache. */
static X509_STORE *chain_store(SSL_CTX *ctx, const char *ca_path) {
  STACK_OF(X509_OBJECT) *objs;
  X509_STORE *tmp = ftps_verify_dir_store(ca_path);
  int i;

  if (tmp == NULL) {
    return NULL;
  }
  objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
    X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

    if (x != NULL &&
        X509_STORE_add_cert(tmp, x) != 1) {
      X509_STORE_free(tmp);
      return NULL;
    }
  }
  return tmp;
}

/* prebuild_chains - a certificate given without its chain gets one from
 * the CA store (TLSCACertificateFile/Path): OpenSSL would otherwise build
 * it in every handshake, a full X509_verify_cert() each time.  Built once
 * here, with the same certificates and the same leniency (errors only cut
 * the chain short), the handshake sends the same certificates. */
static void prebuild_chains(SSL_CTX *ctx, const char *ca_path) {
  X509 *current = SSL_CTX_get0_certificate(ctx);
  X509_STORE *tmp = chain_store(ctx, ca_path);
  int rc;

  ERR_set_mark();
  if (tmp != NULL) {
    (void) SSL_CTX_set1_chain_cert_store(ctx, tmp);
  }
  for (rc = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); rc == 1;
       rc = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    STACK_OF(X509) *chain = NULL;

    if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 &&
        chain == NULL) {
      (void) SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR|
        SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR);
    }
  }
  if (tmp != NULL) {
    (void) SSL_CTX_set0_chain_cert_store(ctx, NULL);
    X509_STORE_free(tmp);
  }
  ERR_pop_to_mark();

  /* Leave the certificate that was current so. */
  if (current != NULL) {
    (void) SSL_CTX_select_current_cert(ctx, current);
  }
}

/* side_files_regular - the CA, CRL and DH files are regular files.
 * OpenSSL opens them blocking: a named pipe put in their place (or a
 * device) would hold the master at a renewal or restart, which builds
 * contexts again, waiting for a writer for good. */
static int side_files_regular(const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  const struct {
    const char *path;
    int what;
  } files[] = {
    { props->ca_file, FTPS_CONTEXT_ERR_CA_FILE },
    { props->crl_file, FTPS_CONTEXT_ERR_CRL_FILE },
    { props->dh_file, FTPS_CONTEXT_ERR_DH_FILE },
  };
  struct stat st;
  size_t i;

  for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    if (files[i].path != NULL &&
        stat(files[i].path, &st) == 0 &&
        !S_ISREG(st.st_mode)) {
      ftps_error_set(err, "not a regular file");
      *what = files[i].what;
      errno = EINVAL;
      return -1;
    }
  }
  return 0;
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

  if (side_files_regular(props, what, err) < 0) {
    return NULL;
  }
  ctx = context_base(TLS_server_method(), props, what, index, err);
  if (ctx == NULL) {
    return NULL;
  }

  /* Installed also under TLSNextProtocol off: the ALPACA refusal does
   * not depend on acknowledging "ftp". */
  if (props->alpn || !props->alpn_any) {
    unsigned int mode = (props->alpn ? FTPS_ALPN_ACK : 0) |
      (props->alpn_any ? FTPS_ALPN_ALLOW_ANY : 0);

    SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb,
      (void *) (uintptr_t) mode);
  }

  if (set_dh(ctx, props, what, err) < 0 ||
      ftps_verify_setup(ctx, props, what, err) < 0 ||
      set_sessions(ctx, props, err) < 0) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  prebuild_chains(ctx, props->ca_path);
  return ctx;
}

/* load_system_cas - the system's CA bundle (SSL_CERT_FILE, or OpenSSL's
 * default file), read now, for TLSVerifyServer without
 * TLSCACertificateFile.  Not SSL_CTX_set_default_verify_paths(): its
 * directory (SSL_CERT_DIR, or OPENSSLDIR/certs) is read lazily, by hashed
 * name, when a peer's certificate is verified; SSCN data connections come
 * after DefaultRoot's chroot, where that path leads into the user's home,
 * and a certificate the user planted there (MKD, STOR) became a trusted
 * CA for the FXP peer.  The bundle holds what the directory does (Debian's
 * update-ca-certificates writes both).  A bundle that is missing leaves
 * no CA: peers are then refused (fail closed), as before. */
static void load_system_cas(SSL_CTX *ctx) {
  const char *file = getenv(X509_get_default_cert_file_env());

  if (file == NULL ||
      *file == '\0') {
    file = X509_get_default_cert_file();
  }
  ERR_set_mark();
  (void) SSL_CTX_load_verify_file(ctx, file);
  ERR_pop_to_mark();
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
    if (props->ca_file == NULL) {
      load_system_cas(ctx);
    }
  }
  return ctx;
}

const char *ftps_context_err_directive(int what, int *file) {
  static const struct {
    int what;
    const char *directive;
    int file;
  } blame[] = {
    { FTPS_CONTEXT_ERR_PROTOCOLS,    "TLSProtocol",          0 },
    { FTPS_CONTEXT_ERR_CIPHERS,      "TLSCipherSuite",       0 },
    { FTPS_CONTEXT_ERR_CIPHERSUITES, "TLSCipherSuite",       0 },
    { FTPS_CONTEXT_ERR_CA_FILE,      "TLSCACertificateFile", 1 },
    { FTPS_CONTEXT_ERR_GROUPS,       "TLSECDHCurve",         0 },
    { FTPS_CONTEXT_ERR_CA_PATH,      "TLSCACertificatePath", 1 },
    { FTPS_CONTEXT_ERR_CRL_FILE,     "TLSCARevocationFile",  1 },
    { FTPS_CONTEXT_ERR_CRL_PATH,     "TLSCARevocationPath",  1 },
    { FTPS_CONTEXT_ERR_DH_FILE,      "TLSDHParamFile",       1 },
    { FTPS_CONTEXT_ERR_VERIFY,       "TLSVerifyClient",      0 },
  };
  size_t i;

  *file = 0;
  for (i = 0; i < sizeof(blame) / sizeof(blame[0]); i++) {
    if (blame[i].what == what) {
      *file = blame[i].file;
      return blame[i].directive;
    }
  }
  return "TLSEngine";
}

/*
 * ftps/context.h - the SSL_CTX of one server (vhost), built once in the
 * master process at startup and inherited by every session through fork(),
 * so that sessions read no certificate files and hold no private copies.
 */
#ifndef FTPS_CONTEXT_H
#define FTPS_CONTEXT_H

#include <openssl/ssl.h>

#include "ftps/error.h"
#include "ftps/keypair.h"

#define FTPS_CONTEXT_MAX_KEYPAIRS 2   /* one RSA, one EC */

struct ftps_context_props {
  unsigned int protocols;          /* FTPS_PROTO_* bits; 0 = default */
  const char *ciphers;             /* TLS <= 1.2 list; NULL = default */
  const char *ciphersuites;        /* TLS 1.3 list; NULL = default */
  const struct ftps_keypair *keypairs[FTPS_CONTEXT_MAX_KEYPAIRS];
  int nkeypairs;
  const char *ca_file;             /* TLSCACertificateFile, or NULL */
  int server_preference;           /* prefer our cipher order (default 1) */
  long session_timeout;            /* seconds; 0 = default */
  int session_cache_off;           /* TLSSessionCache off: no resumption */
  const char *groups;              /* key exchange groups; NULL = default */

  /* Client certificates (TLSVerifyClient and friends). */
  int verify_client;               /* FTPS_VERIFY_* */
  int verify_depth;                /* TLSVerifyDepth, counted as mod_tls
                                    * counts it (0 is a valid depth);
                                    * < 0 = default */
  const char *ca_path;             /* TLSCACertificatePath, or NULL */
  const char *crl_file;            /* TLSCARevocationFile, or NULL */
  const char *crl_path;            /* TLSCARevocationPath, or NULL */

  const char *dh_file;             /* TLSDHParamFile, or NULL (automatic) */
  int allow_weak_dh;               /* TLSOptions AllowWeakDH */
  int tickets;                     /* TLSSessionTickets (default 1): 0 =
                                    * session IDs under TLS <= 1.2, and
                                    * TLS 1.3 tickets that refer to this
                                    * process's cache (stateful) */
  int alpn;                        /* TLSNextProtocol: select ALPN "ftp" */
  int alpn_any;                    /* TLSOptions AllowAnyALPN: serve a
                                    * client whose ALPN list lacks "ftp"
                                    * (default 0: refused, ALPACA) */
  int weak_security;               /* TLSOptions AllowWeakSecurity */
  int client_renegotiation;        /* TLSOptions AllowClientRenegotiations */
};

/* TLSVerifyClient */
#define FTPS_VERIFY_OFF       0
#define FTPS_VERIFY_ON        1   /* a valid certificate is required */
#define FTPS_VERIFY_OPTIONAL  2   /* requested; verified if one is sent */

/* mod_tls's default TLSVerifyDepth */
#define FTPS_VERIFY_DEPTH_DEFAULT 9

/* The smallest DH group used without TLSOptions AllowWeakDH. */
#define FTPS_DH_MIN_BITS 2048

/* Which property a failure is about, so the glue can name the directive. */
#define FTPS_CONTEXT_ERR_OTHER        0
#define FTPS_CONTEXT_ERR_PROTOCOLS    1
#define FTPS_CONTEXT_ERR_CIPHERS      2
#define FTPS_CONTEXT_ERR_CIPHERSUITES 3
#define FTPS_CONTEXT_ERR_KEYPAIR      4   /* index in *err_index */
#define FTPS_CONTEXT_ERR_CA_FILE      5
#define FTPS_CONTEXT_ERR_GROUPS       6
#define FTPS_CONTEXT_ERR_CA_PATH      7
#define FTPS_CONTEXT_ERR_CRL_FILE     8
#define FTPS_CONTEXT_ERR_CRL_PATH     9
#define FTPS_CONTEXT_ERR_DH_FILE      10
#define FTPS_CONTEXT_ERR_VERIFY       11   /* verification without a CA */

/* ftps_context_err_directive - the directive an FTPS_CONTEXT_ERR_* value
 * blames ("TLSEngine" for FTPS_CONTEXT_ERR_OTHER; the keypair's own
 * directive is the caller's to find for FTPS_CONTEXT_ERR_KEYPAIR); *file
 * is set to 1 when the directive names a file or directory */
const char *ftps_context_err_directive(int what, int *file);

/* ftps_context_props_init - default properties */
void ftps_context_props_init(struct ftps_context_props *props);

/* ftps_context_new - an SSL_CTX for a TLS server with these properties:
 * TLS 1.2+ AEAD forward-secret ciphers by default, no renegotiation, tickets
 * stamped for data-session binding.  Returns NULL with errno and err set; if
 * what is not NULL it receives FTPS_CONTEXT_ERR_* (and *index the keypair). */
SSL_CTX *ftps_context_new(const struct ftps_context_props *props,
  int *what, int *index, struct ftps_error *err);

/* ftps_context_new_client - an SSL_CTX for our side of SSCN data
 * connections, where we are the TLS client (FXP).  With verify, the peer's
 * certificate must chain to ca_file (or to the system's CAs) and name the
 * peer's address (see ftps_tls_expect_peer_ip).  Returns NULL with err set. */
SSL_CTX *ftps_context_new_client(const struct ftps_context_props *props,
  int verify, struct ftps_error *err);

#endif /* FTPS_CONTEXT_H */

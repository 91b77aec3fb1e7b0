/*
 * ftps/verify.h - client certificate verification settings of a server
 * SSL_CTX (TLSVerifyClient, TLSVerifyDepth, TLSCACertificateFile/Path,
 * TLSCARevocationFile/Path).  No ProFTPD.
 */
#ifndef FTPS_VERIFY_H
#define FTPS_VERIFY_H

#include <time.h>

#include <openssl/ssl.h>

#include "ftps/context.h"
#include "ftps/error.h"

/* ftps_verify_setup - apply props' client verification to ctx (whose CA
 * file is already loaded).  "on" needs a CA file or directory.  A client
 * certificate whose CA has no configured CRL is accepted (as with mod_tls);
 * one revoked by a configured CRL is refused.  Only CRLs are taken from
 * TLSCARevocationFile/Path (never a trusted certificate); the file is read
 * now, and one that does not parse or holds no CRL is an error, also when
 * client certificates are not verified.  0, or -1 with errno, err and
 * *what (FTPS_CONTEXT_ERR_*) set. */
int ftps_verify_setup(SSL_CTX *ctx, const struct ftps_context_props *props,
  int *what, struct ftps_error *err);

/* ftps_verify_release - free the CRL store ftps_verify_setup attached to
 * ctx (call before the last SSL_CTX_free of ctx) */
void ftps_verify_release(SSL_CTX *ctx);

/* What a renewal of the CRLs is judged against: one CRL a context had,
 * by its issuer (DER name) and when it was issued. */
#define FTPS_VERIFY_MAX_CRL_MARKS 32
struct ftps_crl_mark {
  unsigned char issuer[512];
  int issuer_len;
  time_t last_update;
};

/* ftps_verify_crl_marks - the CRLs read from ctx's TLSCARevocationFile
 * (none when client certificates are not verified) into marks, at most
 * max; their number */
int ftps_verify_crl_marks(SSL_CTX *ctx, struct ftps_crl_mark *marks,
  int max);

/* ftps_verify_crl_lost - the first of the n marks (the CRLs of the last
 * good context) whose issuer ctx still trusts and for which ctx has no
 * CRL, or only older ones (*older set): with ctx, a certificate that CRL
 * revoked would be accepted again (an issuer without a CRL is not
 * checked).  Its issuer's name into buf; NULL when there is none. */
const char *ftps_verify_crl_lost(SSL_CTX *ctx,
  const struct ftps_crl_mark *marks, int n, int *older, char *buf,
  size_t bufsz);

/* ftps_verify_session_stale - 1 if the client certificate of sess (a
 * session about to be resumed) does not verify now against the CA
 * certificates and CRLs ssl's context holds (TLSCACertificatePath and
 * TLSCARevocationPath as the directories are now), alone: a ticket keeps
 * no intermediate CA the client sent, so such a certificate is 1 too
 * unless the store holds its issuer; also 1 if it cannot be found out.  0
 * when it verifies, or without a client certificate.  OpenSSL does not
 * verify a resumed session again: without this, a certificate revoked or
 * distrusted after its ticket was issued would log in with the ticket. */
int ftps_verify_session_stale(SSL *ssl, const SSL_SESSION *sess);

/* ftps_verify_dir_store - a throwaway store that reads the hashed
 * directory path (TLSCACertificatePath, TLSCARevocationPath) when asked:
 * what a lookup finds stays cached in the store it was made through, so
 * the master looks into the directories through such a store, never
 * through a served one (every session inherits those).  NULL for a NULL
 * path, or when it cannot be had. */
X509_STORE *ftps_verify_dir_store(const char *path);

/* ftps_verify_digest - a SHA-256 digest of what ctx verifies client
 * certificates with: every CA certificate and CRL its stores hold (those
 * of TLSCACertificateFile and TLSCARevocationFile; a hashed directory's
 * are read lazily and not counted), in any order.  A session resumed from
 * a ticket was judged by the material its ticket was issued under: the
 * ticket scope (ftps/tickets.h) includes this digest, so that a renewed
 * CA or CRL file sends old tickets to a full handshake.  0, or -1. */
#define FTPS_VERIFY_DIGEST_LEN 32
int ftps_verify_digest(SSL_CTX *ctx, unsigned char *out);

#endif /* FTPS_VERIFY_H */

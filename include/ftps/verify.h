/*
 * ftps/verify.h - client certificate verification settings of a server
 * SSL_CTX (TLSVerifyClient, TLSVerifyDepth, TLSCACertificateFile/Path,
 * TLSCARevocationFile/Path).  No ProFTPD.
 */
#ifndef FTPS_VERIFY_H
#define FTPS_VERIFY_H

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

#endif /* FTPS_VERIFY_H */

/*
 * ftps/certvars.h - the TLS_* environment variables of a protected
 * connection, named and formatted as mod_tls documents them (TLSOptions
 * StdEnvVars and ExportCertData), for LogFormat %{NAME}e lines and the
 * programs a session runs (mod_exec, SITE commands).
 *
 * Pure functions over OpenSSL objects: no ProFTPD.  Each variable is
 * handed to a callback, which must copy what it keeps.
 */
#ifndef FTPS_CERTVARS_H
#define FTPS_CERTVARS_H

#include <openssl/ssl.h>

/* What to produce (TLSOptions). */
#define FTPS_CERTVARS_STD     0x1   /* StdEnvVars */
#define FTPS_CERTVARS_EXPORT  0x2   /* ExportCertData */

typedef void (*ftps_certvars_fn)(const char *name, const char *value,
  void *arg);

/* ftps_certvars_cert - the variables of one certificate, each named
 * prefix + suffix (prefix "TLS_CLIENT_" or "TLS_SERVER_"): with
 * FTPS_CERTVARS_STD M_VERSION, M_SERIAL (decimal), S_DN and I_DN (one-line
 * form), S_DN_<X> and I_DN_<X> for X in C CN D G I L O OU ST S T UID Email,
 * V_START, V_END, A_SIG, A_KEY; and with either flag CERT (PEM).  A name
 * entry with an embedded NUL is left out.  0, or -1 (ENOMEM, EINVAL). */
int ftps_certvars_cert(X509 *cert, const char *prefix, unsigned int flags,
  ftps_certvars_fn fn, void *arg);

/* ftps_certvars_conn - every variable of the connection ssl (server
 * side) beyond FTPS, TLS_PROTOCOL, TLS_CIPHER, TLS_SERVER_NAME and
 * TLS_LIBRARY_VERSION: with FTPS_CERTVARS_STD TLS_SESSION_ID (upper-case
 * hex), TLS_CIPHER_KEYSIZE_POSSIBLE, TLS_CIPHER_KEYSIZE_USED (and
 * TLS_CIPHER_EXPORT=1 under 56 bits); with either flag
 * TLS_CLIENT_CERT_CHAIN<n> (the chain the client sent after its own
 * certificate, n from 1), then ftps_certvars_cert() of our certificate
 * and of the client's.  0, or -1 (ENOMEM, EINVAL). */
int ftps_certvars_conn(SSL *ssl, unsigned int flags, ftps_certvars_fn fn,
  void *arg);

#endif /* FTPS_CERTVARS_H */

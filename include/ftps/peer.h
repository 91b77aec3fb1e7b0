/*
 * ftps/peer.h - checks on a client's certificate: the names it must carry
 * (TLSOptions CommonNameRequired, dNSNameRequired, iPAddressRequired), the
 * login name it stands for (TLSUserName), and whether it is listed in a
 * user's ~/.tlslogin (TLSOptions AllowDotLogin).
 *
 * Pure functions over OpenSSL objects: no ProFTPD.  Names are compared
 * exactly; a value with an embedded NUL never matches (a spoofing trick).
 */
#ifndef FTPS_PEER_H
#define FTPS_PEER_H

#include <openssl/x509.h>

#include "ftps/error.h"

/* What the client's certificate must name (TLSOptions bits, as flags). */
#define FTPS_PEER_NEED_CN    0x1   /* a subject CN equal to the host name */
#define FTPS_PEER_NEED_DNS   0x2   /* a DNS subjectAltName for the host */
#define FTPS_PEER_NEED_IP    0x4   /* an IP subjectAltName equal to the IP */

/* ftps_peer_check_names - does cert satisfy every need in flags for a
 * client at ip whose (reverse DNS) host name is host (may equal ip, or be
 * NULL)?  0, or -1 (EACCES) with err saying which name is missing. */
int ftps_peer_check_names(X509 *cert, int flags, const char *host,
  const char *ip, struct ftps_error *err);

/* ftps_peer_user_matches - TLSUserName: 1 if the field of cert named by
 * field ("CommonName", "EmailSubjAltName", or a dotted OID such as
 * "1.2.840.113549.1.9.1") holds exactly user; 0 if not; -1 (EINVAL) when
 * field is not a known name or a valid OID. */
int ftps_peer_user_matches(X509 *cert, const char *field, const char *user);

/* ftps_peer_field_valid - 1 if field is a valid TLSUserName value */
int ftps_peer_field_valid(const char *field);

/* ftps_peer_listed_in - AllowDotLogin: 1 if the PEM text readable from fd
 * (a user's ~/.tlslogin) holds a certificate identical to cert, else 0;
 * -1 with errno and err set on a bad argument. */
int ftps_peer_listed_in(X509 *cert, int fd, struct ftps_error *err);

/* ftps_peer_same - 1 if both connections present the same client
 * certificate, or neither presents one (a data connection must not present
 * another client's certificate than its control connection) */
int ftps_peer_same(X509 *a, X509 *b);

#endif /* FTPS_PEER_H */

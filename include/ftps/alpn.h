/*
 * ftps/alpn.h - the client's ALPN list (RFC 7301 section 3.1), walked
 * entry by entry, and what the server does with it: acknowledge "ftp",
 * leave it unanswered, or refuse the handshake (the ALPACA defence,
 * CVE-2021-3618).  Pure C: no ProFTPD, no OpenSSL.
 */
#ifndef FTPS_ALPN_H
#define FTPS_ALPN_H

#include <stddef.h>

/* The protocol ID of FTP (IANA ALPN registry, RFC 7301 section 6). */
#define FTPS_ALPN_FTP "ftp"

/* What the server was configured to do (bits). */
#define FTPS_ALPN_ACK        0x1U   /* TLSNextProtocol on: select "ftp" */
#define FTPS_ALPN_ALLOW_ANY  0x2U   /* TLSOptions AllowAnyALPN: serve a
                                     * client whose list lacks "ftp" */

/* What to do with one client's list. */
#define FTPS_ALPN_SELECT   1   /* acknowledge "ftp" */
#define FTPS_ALPN_NOACK    0   /* serve, without an ALPN answer */
#define FTPS_ALPN_REFUSE  -1   /* no_application_protocol alert */

/* ftps_alpn_find - does the list (the extension's protocol_name_list
 * without its 2-byte length: 1-byte lengths, each followed by that many
 * bytes) hold the entry proto?  Entries are compared whole and exactly
 * (RFC 7301 section 3.1: octet strings), so "ftp" inside "xftp" or
 * spread over two entries does not count.  Returns 1 or 0; -1 (EINVAL)
 * when the list is empty, has an empty entry or overruns len. */
int ftps_alpn_find(const unsigned char *list, size_t len, const char *proto);

/* ftps_alpn_decide - FTPS_ALPN_SELECT, _NOACK or _REFUSE for the list under
 * mode (FTPS_ALPN_* bits).  A malformed list is refused whatever the
 * mode. */
int ftps_alpn_decide(const unsigned char *list, size_t len,
  unsigned int mode);

/* ftps_alpn_str - the list as "http/1.1,h2" in buf (always terminated;
 * bytes outside printable ASCII, and ',' and '\', as \xNN), for logs;
 * "(malformed)" for a malformed list */
const char *ftps_alpn_str(const unsigned char *list, size_t len, char *buf,
  size_t bufsz);

#endif /* FTPS_ALPN_H */

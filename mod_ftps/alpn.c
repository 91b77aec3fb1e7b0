/*
 * alpn.c - the client's ALPN list and the server's answer (ftps/alpn.h).
 *
 * ALPACA (USENIX Security 2021, CVE-2021-3618): an attacker redirects a
 * client's TLS connection meant for another service (HTTPS, IMAPS) to an
 * FTPS server whose certificate covers that service's name; the FTP server
 * then reflects or stores what the foreign client sends.  A client that
 * names its application protocols and does not name FTP is such a
 * connection, or a client that would misread FTP: RFC 7301 section 3.2
 * tells the server to end it with no_application_protocol.  A client that
 * sends no ALPN at all (curl, lftp, Python ftplib today) is served.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ftps/alpn.h"

int ftps_alpn_find(const unsigned char *list, size_t len,
    const char *proto) {
  size_t i = 0, plen;
  int found = 0;

  if (list == NULL || proto == NULL || len == 0) {
    errno = EINVAL;
    return -1;
  }
  plen = strlen(proto);

  /* The whole list is checked before the answer: a list that is malformed
   * after a match is still malformed. */
  while (i < len) {
    size_t n = list[i];

    if (n == 0 ||
        n > len - i - 1) {
      errno = EINVAL;
      return -1;
    }
    if (n == plen &&
        memcmp(list + i + 1, proto, n) == 0) {
      found = 1;
    }
    i += 1 + n;
  }
  return found;
}

int ftps_alpn_decide(const unsigned char *list, size_t len,
    unsigned int mode) {
  int found = ftps_alpn_find(list, len, FTPS_ALPN_FTP);

  if (found < 0) {
    return FTPS_ALPN_REFUSE;
  }
  if (found) {
    return (mode & FTPS_ALPN_ACK) ? FTPS_ALPN_SELECT : FTPS_ALPN_NOACK;
  }
  return (mode & FTPS_ALPN_ALLOW_ANY) ? FTPS_ALPN_NOACK : FTPS_ALPN_REFUSE;
}

/* put - append the NUL-terminated s to buf at *used, if it fits whole */
static int put(char *buf, size_t bufsz, size_t *used, const char *s) {
  size_t n = strlen(s);

  if (*used + n >= bufsz) {
    return -1;
  }
  memcpy(buf + *used, s, n + 1);
  *used += n;
  return 0;
}

const char *ftps_alpn_str(const unsigned char *list, size_t len, char *buf,
    size_t bufsz) {
  size_t i = 0, used = 0;

  if (buf == NULL || bufsz == 0) {
    return buf;
  }
  buf[0] = '\0';
  if (ftps_alpn_find(list, len, FTPS_ALPN_FTP) < 0) {
    (void) put(buf, bufsz, &used, "(malformed)");
    return buf;
  }

  while (i < len) {
    size_t j, n = list[i++];

    if ((used > 0 && put(buf, bufsz, &used, ",") < 0)) {
      break;
    }
    for (j = 0; j < n; j++) {
      unsigned char c = list[i + j];
      char one[8];

      if (c < 0x20 || c > 0x7e || c == ',' || c == '\\') {
        snprintf(one, sizeof(one), "\\x%02X", c);

      } else {
        one[0] = (char) c;
        one[1] = '\0';
      }
      if (put(buf, bufsz, &used, one) < 0) {
        return buf;
      }
    }
    i += n;
  }
  return buf;
}

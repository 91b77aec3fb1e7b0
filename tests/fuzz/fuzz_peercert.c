/*
 * fuzz_peercert.c - what mod_ftps reads out of a client's certificate
 * (mod_ftps/peer.c, certvars.c): the names TLSOptions CommonNameRequired,
 * dNSNameRequired and iPAddressRequired check, the login name of
 * TLSUserName, a user's ~/.tlslogin file (AllowDotLogin), and the TLS_*
 * environment variables of StdEnvVars and ExportCertData.
 *
 * Input: a byte of flags, two bytes of length, that many bytes of DER
 * (the certificate), and the rest as a ~/.tlslogin file (PEM).
 * Promises checked: every variable has a name under its prefix and a
 * value; answers are 0/1 (or -1 with errno where documented); a
 * certificate is the same as itself.
 */
#define _GNU_SOURCE  /* memfd_create */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "ftps/certvars.h"
#include "ftps/peer.h"
#include "fuzz.h"

static const char *prefix;

static void var_cb(const char *name, const char *value, void *arg) {
  size_t *count = arg;

  FUZZ_ASSERT(name != NULL && value != NULL);
  FUZZ_ASSERT(strncmp(name, prefix, strlen(prefix)) == 0);
  FUZZ_ASSERT(strlen(name) > strlen(prefix));
  (*count)++;
}

static void check_dotlogin(X509 *cert, const uint8_t *data, size_t size) {
  struct ftps_error err;
  int fd, rc;

  fd = memfd_create("tlslogin", MFD_CLOEXEC);
  if (fd < 0) {
    return;
  }
  if (size == 0 || write(fd, data, size) == (ssize_t) size) {
    (void) lseek(fd, 0, SEEK_SET);
    rc = ftps_peer_listed_in(cert, fd, &err);
    FUZZ_ASSERT(rc == 0 || rc == 1);
  }
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const fields[] = {
    "CommonName", "EmailSubjAltName", "1.2.840.113549.1.9.1", "2.5.4.45"
  };
  struct ftps_error err;
  const unsigned char *p;
  size_t len, count = 0, i;
  X509 *cert;
  int flags, rc;

  if (size < 3) {
    return 0;
  }
  flags = data[0];
  len = ((size_t) data[1] << 8) | data[2];
  if (len > size - 3) {
    len = size - 3;
  }
  p = data + 3;
  cert = d2i_X509(NULL, &p, (long) len);
  if (cert == NULL) {
    ERR_clear_error();
    return 0;
  }

  rc = ftps_peer_check_names(cert, flags & 7, (flags & 8) ? "127.0.0.1" :
    "localhost", "127.0.0.1", &err);
  FUZZ_ASSERT(rc == 0 || (rc == -1 && errno == EACCES && err.msg[0] != '\0'));
  for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    rc = ftps_peer_user_matches(cert, fields[i], (flags & 16) ? "alice" :
      "alice@example.org");
    FUZZ_ASSERT(rc == 0 || rc == 1);
  }
  FUZZ_ASSERT(ftps_peer_same(cert, cert) == 1);
  FUZZ_ASSERT(ftps_peer_same(cert, NULL) == 0);

  prefix = (flags & 32) ? "TLS_SERVER_" : "TLS_CLIENT_";
  rc = ftps_certvars_cert(cert, prefix, FTPS_CERTVARS_STD|
    ((flags & 64) ? FTPS_CERTVARS_EXPORT : 0), var_cb, &count);
  FUZZ_ASSERT(rc == 0 || (rc == -1 && (errno == ENOMEM || errno == EINVAL)));
  if (rc == 0) {
    FUZZ_ASSERT(count > 0);
  }

  check_dotlogin(cert, data + 3 + len, size - 3 - len);
  X509_free(cert);
  ERR_clear_error();
  return 0;
}

/*
 * fuzz_pem.c - certificate and key loading from memory
 * (mod_ftps/keypair.c): the PEM walk of TLSRSACertificateFile and its
 * kin (certificates, chain, private keys, encrypted or not), the chain
 * file reader (TLSCertificateChainFile) and PKCS#12 (TLSPKCS12File).
 *
 * Input: one byte choosing the reader and whether a passphrase ("fuzz")
 * is available, then the file's bytes; for the two-file mode the file is
 * cut in two at the first "\n--\n" (a certificate file, then a key file).
 * Promises checked: a failure leaves the keypair as it was, with errno
 * among the documented ones and a message; a success leaves a usable
 * state (a certificate whenever there is a chain) that the checks
 * (ftps_keypair_check, _key_type, _expired) can take whatever it holds.
 */
#define _GNU_SOURCE  /* memmem */
#include <errno.h>
#include <openssl/err.h>

#include "ftps/keypair.h"
#include "fuzz.h"

static int pass_cb(char *buf, int bufsz, int rwflag, void *arg) {
  static const char pw[] = "fuzz";

  (void) rwflag;
  if (arg == NULL || bufsz < (int) sizeof(pw)) {
    return -1;
  }
  memcpy(buf, pw, sizeof(pw) - 1);
  return (int) sizeof(pw) - 1;
}

static int errno_documented(int e) {
  return e == EINVAL || e == EEXIST || e == ENOKEY || e == ENOMEM;
}

/* snapshot - what the keypair holds, to compare after a failure */
struct snapshot {
  X509 *cert;
  EVP_PKEY *key;
  int nchain;
};

static void take(struct snapshot *s, const struct ftps_keypair *kp) {
  s->cert = kp->cert;
  s->key = kp->key;
  s->nchain = kp->chain != NULL ? sk_X509_num(kp->chain) : 0;
}

static void same(const struct snapshot *s, const struct ftps_keypair *kp) {
  FUZZ_ASSERT(kp->cert == s->cert && kp->key == s->key);
  FUZZ_ASSERT((kp->chain != NULL ? sk_X509_num(kp->chain) : 0) == s->nchain);
}

/* read_one - one reader over buf, with the failure promises checked */
static void read_one(struct ftps_keypair *kp, int mode, const char *buf,
    size_t len, void *pw) {
  struct ftps_error err;
  struct snapshot before;
  int rc;

  take(&before, kp);
  ftps_error_clear(&err);
  errno = 0;
  switch (mode) {
    case 1:
      rc = ftps_keypair_read_chain_pem(kp, buf, len, &err);
      break;
    case 2:
      rc = ftps_keypair_read_pkcs12_der(kp, buf, len, "/nonexistent/fuzz.p12", pass_cb, pw,
        &err);
      break;
    default:
      rc = ftps_keypair_read_pem(kp, buf, len, "/nonexistent/fuzz.pem", pass_cb, pw, &err);
      break;
  }
  if (rc < 0) {
    FUZZ_ASSERT(rc == -1 && errno_documented(errno) && err.msg[0] != '\0');
    same(&before, kp);
  } else {
    FUZZ_ASSERT(rc == 0);
  }
  ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ftps_keypair kp;
  struct ftps_error err;
  const char *buf, *sep;
  char date[64];
  size_t len;
  void *pw;
  int mode;

  if (size < 1) {
    return 0;
  }
  mode = data[0] & 3;
  pw = (data[0] & 4) ? (void *) 1 : NULL;
  buf = (const char *) data + 1;
  len = size - 1;

  ftps_keypair_init(&kp);
  if (mode == 3) {
    /* A certificate file, then a key file, into the same keypair. */
    sep = memmem(buf, len, "\n--\n", 4);
    if (sep == NULL) {
      read_one(&kp, 0, buf, len, pw);
    } else {
      read_one(&kp, 0, buf, (size_t) (sep - buf) + 1, pw);
      read_one(&kp, 0, sep + 4, len - (size_t) (sep - buf) - 4, pw);
    }
  } else if (mode == 1) {
    /* A chain after a certificate already read (the chain file drops the
     * copies it holds of certificates the keypair has). */
    sep = memmem(buf, len, "\n--\n", 4);
    if (sep != NULL) {
      read_one(&kp, 0, buf, (size_t) (sep - buf) + 1, pw);
      read_one(&kp, 1, sep + 4, len - (size_t) (sep - buf) - 4, pw);
    } else {
      read_one(&kp, 1, buf, len, pw);
    }
  } else {
    read_one(&kp, mode, buf, len, pw);
  }

  if (kp.chain != NULL && sk_X509_num(kp.chain) > 0 && mode != 1) {
    FUZZ_ASSERT(kp.cert != NULL);
  }
  if (ftps_keypair_check(&kp, &err) < 0) {
    FUZZ_ASSERT(err.msg[0] != '\0');
  }
  if (kp.cert == NULL) {
    FUZZ_ASSERT(ftps_keypair_key_type(&kp) == NULL);
  } else {
    (void) ftps_keypair_key_type(&kp);
  }
  (void) ftps_keypair_expired(&kp, 0, date, sizeof(date));
  (void) ftps_keypair_expired(&kp, (time_t) 4102444800LL, date, sizeof(date));
  FUZZ_ASSERT(ftps_keypair_key_file_exposed(&kp) == 0);
  ftps_keypair_free(&kp);
  FUZZ_ASSERT(kp.cert == NULL && kp.key == NULL && kp.chain == NULL);
  ERR_clear_error();
  return 0;
}

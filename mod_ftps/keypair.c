/*
 * keypair.c - server certificate, chain and private key from PEM files
 * (see ftps/keypair.h).
 *
 * A file is read into memory once and its PEM blocks are walked in order.
 * What a file yields is collected aside and only committed to the keypair
 * once the whole file has been read without error, so that a failed read
 * leaves the keypair as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "ftps/keypair.h"

/* Far above any sane certificate bundle; guards against reading a huge file
 * into memory by mistake. */
#define KEYPAIR_FILE_MAX (4 * 1024 * 1024)

/* The passphrase callback given by the caller, wrapped so that OpenSSL never
 * falls back to its terminal prompt and so that we know whether a
 * passphrase was refused (as opposed to wrong). */
struct keypair_pass {
  ftps_keypair_pass_cb *cb;
  void *arg;
  int refused;
};

/* What one file yielded, before it is committed to the keypair. */
struct keypair_scan {
  STACK_OF(X509) *certs;
  EVP_PKEY *key;
  int allow_key;
  struct keypair_pass *pass;
};

void ftps_keypair_init(struct ftps_keypair *kp) {
  if (kp == NULL) {
    return;
  }
  kp->cert = NULL;
  kp->chain = NULL;
  kp->key = NULL;
  kp->key_path[0] = '\0';
}

void ftps_keypair_free(struct ftps_keypair *kp) {
  if (kp == NULL) {
    return;
  }
  X509_free(kp->cert);
  sk_X509_pop_free(kp->chain, X509_free);
  EVP_PKEY_free(kp->key);
  ftps_keypair_init(kp);
}

/* keypair_fail - set errno and the message; returns -1 for "return" */
static int keypair_fail(struct ftps_error *err, int errnum, const char *msg) {
  ftps_error_set(err, "%s", msg);
  errno = errnum;
  return -1;
}

/* keypair_fail_ssl - like keypair_fail, with OpenSSL's reasons appended */
static int keypair_fail_ssl(struct ftps_error *err, int errnum,
    const char *msg) {
  ftps_error_set_ssl(err, "%s", msg);
  errno = errnum;
  return -1;
}

/* keypair_pass_cb - the pem_password_cb handed to OpenSSL: asks the
 * caller's callback, never the terminal */
static int keypair_pass_cb(char *buf, int size, int rwflag, void *u) {
  struct keypair_pass *pass = u;
  int n;

  (void) rwflag;
  /* OpenSSL 3's decoders may ask again after a refusal: the provider (or
   * the administrator) is asked once per key. */
  if (pass != NULL && pass->refused) {
    return -1;
  }
  if (pass == NULL || pass->cb == NULL) {
    if (pass != NULL) {
      pass->refused = 1;
    }
    return -1;
  }

  n = pass->cb(buf, size, 0, pass->arg);
  if (n <= 0) {
    /* OpenSSL treats an empty passphrase as a failure to get one too. */
    pass->refused = 1;
    return -1;
  }
  return n > size ? size : n;
}

/* keypair_slurp - read the regular file path into a new buffer (freed with
 * OPENSSL_clear_free, since it may hold a key) */
static int keypair_slurp(const char *path, char **bufp, size_t *lenp,
    struct ftps_error *err) {
  struct stat st;
  char *buf;
  size_t len = 0, cap;
  int fd, xerrno;

  /* stat() first: its errno tells "missing" from "forbidden" clearly. */
  if (stat(path, &st) < 0) {
    xerrno = errno;
    return keypair_fail(err, xerrno, strerror(xerrno));
  }
  if (!S_ISREG(st.st_mode)) {
    return keypair_fail(err, EISDIR, "not a regular file");
  }

  /* O_NONBLOCK: should the file be swapped for a FIFO after stat(), open()
   * must not hang; fstat() below then rejects it. */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    xerrno = errno;
    return keypair_fail(err, xerrno, strerror(xerrno));
  }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return keypair_fail(err, EISDIR, "not a regular file");
  }
  if (st.st_size > KEYPAIR_FILE_MAX) {
    close(fd);
    return keypair_fail(err, EINVAL, "file too large for a PEM file");
  }

  /* One spare byte: a file that grew since fstat() shows as a full buffer. */
  cap = (size_t) st.st_size + 1;
  buf = OPENSSL_malloc(cap);
  if (buf == NULL) {
    close(fd);
    return keypair_fail(err, ENOMEM, "out of memory");
  }

  for (;;) {
    ssize_t n = read(fd, buf + len, cap - len);

    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      xerrno = errno;
      close(fd);
      OPENSSL_clear_free(buf, cap);
      return keypair_fail(err, xerrno, strerror(xerrno));
    }
    if (n == 0) {
      break;
    }
    len += (size_t) n;
    if (len == cap) {
      close(fd);
      OPENSSL_clear_free(buf, cap);
      return keypair_fail(err, EAGAIN, "the file changed while being read");
    }
  }

  close(fd);
  *bufp = buf;
  *lenp = len;
  return 0;
}

/* keypair_is_cert_name - a PEM block name that holds an X.509 certificate */
static int keypair_is_cert_name(const char *name) {
  return strcmp(name, PEM_STRING_X509) == 0 ||
    strcmp(name, PEM_STRING_X509_OLD) == 0 ||
    strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
}

/* keypair_is_key_name - "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA
 * PRIVATE KEY", ...: every name ending in PRIVATE KEY */
static int keypair_is_key_name(const char *name) {
  static const char suffix[] = "PRIVATE KEY";
  size_t len = strlen(name), slen = sizeof(suffix) - 1;

  if (len < slen || strcmp(name + len - slen, suffix) != 0) {
    return 0;
  }
  return len == slen || name[len - slen - 1] == ' ';
}

/* keypair_decode_cert - the certificate in a block's DER data */
static int keypair_decode_cert(struct keypair_scan *scan, const char *name,
    const unsigned char *data, long len, struct ftps_error *err) {
  const unsigned char *p = data;
  X509 *cert;

  /* TRUSTED CERTIFICATE carries trust settings after the certificate. */
  if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0) {
    cert = d2i_X509_AUX(NULL, &p, len);
  } else {
    cert = d2i_X509(NULL, &p, len);
  }
  if (cert == NULL) {
    return keypair_fail_ssl(err, EINVAL, "a certificate does not parse");
  }

  if (scan->certs == NULL) {
    scan->certs = sk_X509_new_null();
  }
  if (scan->certs == NULL || sk_X509_push(scan->certs, cert) <= 0) {
    X509_free(cert);
    return keypair_fail(err, ENOMEM, "out of memory");
  }
  return 0;
}

/* keypair_decode_key - the private key in the PEM text pem (exactly one
 * block); decoded from the text rather than from the DER data so that
 * OpenSSL handles both encryption formats and asks for the passphrase */
static int keypair_decode_key(struct keypair_scan *scan, const char *pem,
    size_t len, int encrypted, struct ftps_error *err) {
  BIO *bio;
  EVP_PKEY *key;

  bio = BIO_new_mem_buf(pem, (int) len);
  if (bio == NULL) {
    return keypair_fail(err, ENOMEM, "out of memory");
  }
  scan->pass->refused = 0;
  key = PEM_read_bio_PrivateKey_ex(bio, NULL, keypair_pass_cb, scan->pass,
    NULL, NULL);
  BIO_free(bio);

  if (key == NULL) {
    if (!encrypted) {
      return keypair_fail_ssl(err, EINVAL, "a private key does not parse");
    }
    if (scan->pass->refused) {
      return keypair_fail(err, ENOKEY,
        "encrypted private key and no passphrase available");
    }
    return keypair_fail(err, ENOKEY,
      "wrong passphrase for the encrypted private key");
  }

  if (scan->key == NULL) {
    scan->key = key;
    return 0;
  }

  /* The same key pasted twice is harmless; two different ones are not. */
  if (EVP_PKEY_eq(scan->key, key) != 1) {
    EVP_PKEY_free(key);
    return keypair_fail(err, EEXIST, "a second, different private key");
  }
  EVP_PKEY_free(key);
  return 0;
}

/* keypair_scan_block - classify one PEM block and decode it; pem/pemlen is
 * the block's text in the file buffer */
static int keypair_scan_block(struct keypair_scan *scan, const char *name,
    const char *header, const unsigned char *data, long len, const char *pem,
    size_t pemlen, struct ftps_error *err) {
  int encrypted;

  if (keypair_is_cert_name(name)) {
    return keypair_decode_cert(scan, name, data, len, err);
  }

  if (!keypair_is_key_name(name)) {
    /* EC PARAMETERS, DH PARAMETERS, X509 CRL, ...: not ours. */
    return 0;
  }

  if (!scan->allow_key) {
    return keypair_fail(err, EINVAL,
      "a private key in a file meant for certificates only");
  }

  encrypted = strcmp(name, PEM_STRING_PKCS8) == 0 ||
    (header != NULL && strstr(header, "ENCRYPTED") != NULL);
  return keypair_decode_key(scan, pem, pemlen, encrypted, err);
}

/* keypair_scan_buffer - walk every PEM block of buf into scan */
static int keypair_scan_buffer(struct keypair_scan *scan, const char *buf,
    size_t buflen, struct ftps_error *err) {
  BIO *bio;
  int nblocks = 0, res = 0;

  bio = BIO_new_mem_buf(buf, (int) buflen);
  if (bio == NULL) {
    return keypair_fail(err, ENOMEM, "out of memory");
  }

  for (;;) {
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    size_t start, end;

    /* Offsets from what is left to read: the block's text is then handed
     * as is to the key decoder, which sees that block and no other. */
    start = buflen - (size_t) BIO_pending(bio);
    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
      if (!ftps_error_pem_end()) {
        res = keypair_fail_ssl(err, EINVAL, "a PEM block is malformed");
      }
      break;
    }
    end = buflen - (size_t) BIO_pending(bio);
    nblocks++;

    res = keypair_scan_block(scan, name, header, data, len, buf + start,
      end - start, err);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_clear_free(data, len);
    if (res < 0) {
      break;
    }
  }

  BIO_free(bio);
  if (res == 0 && nblocks == 0) {
    res = keypair_fail(err, EINVAL, "no PEM block in the file");
  }
  return res;
}

/* keypair_scan_mem - walk the blocks of PEM text already in memory */
static int keypair_scan_mem(struct keypair_scan *scan, const char *buf,
    size_t len, struct ftps_error *err) {
  if (len > KEYPAIR_FILE_MAX) {
    return keypair_fail(err, EINVAL, "too large for a PEM file");
  }
  return keypair_scan_buffer(scan, buf, len, err);
}

/* keypair_scan_file - read path and walk its blocks into scan */
static int keypair_scan_file(struct keypair_scan *scan, const char *path,
    struct ftps_error *err) {
  char *buf = NULL;
  size_t len = 0;
  int res;

  if (keypair_slurp(path, &buf, &len, err) < 0) {
    return -1;
  }
  res = keypair_scan_buffer(scan, buf, len, err);
  OPENSSL_clear_free(buf, len);
  return res;
}

/* keypair_scan_free - release what a scan still holds */
static void keypair_scan_free(struct keypair_scan *scan) {
  sk_X509_pop_free(scan->certs, X509_free);
  scan->certs = NULL;
  EVP_PKEY_free(scan->key);
  scan->key = NULL;
}

/* keypair_reserve_chain - room for n more certificates in kp->chain, so
 * that a commit cannot fail half-way */
static int keypair_reserve_chain(struct ftps_keypair *kp, int n,
    struct ftps_error *err) {
  if (n <= 0) {
    return 0;
  }
  if (kp->chain == NULL) {
    kp->chain = sk_X509_new_reserve(NULL, n);
    if (kp->chain == NULL) {
      return keypair_fail(err, ENOMEM, "out of memory");
    }
    return 0;
  }
  if (!sk_X509_reserve(kp->chain, sk_X509_num(kp->chain) + n)) {
    return keypair_fail(err, ENOMEM, "out of memory");
  }
  return 0;
}

/* keypair_cert_known - cert equals kp->cert, one in kp->chain, or one of
 * the first n certificates of more */
static int keypair_cert_known(const struct ftps_keypair *kp,
    STACK_OF(X509) *more, int n, X509 *cert) {
  int i;

  if (kp->cert != NULL && X509_cmp(kp->cert, cert) == 0) {
    return 1;
  }
  for (i = 0; kp->chain != NULL && i < sk_X509_num(kp->chain); i++) {
    if (X509_cmp(sk_X509_value(kp->chain, i), cert) == 0) {
      return 1;
    }
  }
  for (i = 0; i < n; i++) {
    if (X509_cmp(sk_X509_value(more, i), cert) == 0) {
      return 1;
    }
  }
  return 0;
}

/* keypair_drop_known - remove from scan->certs (in place, keeping the
 * order) every certificate kp already has or that came earlier */
static void keypair_drop_known(const struct ftps_keypair *kp,
    struct keypair_scan *scan) {
  int i = 0;

  while (i < sk_X509_num(scan->certs)) {
    X509 *cert = sk_X509_value(scan->certs, i);

    if (keypair_cert_known(kp, scan->certs, i, cert)) {
      X509_free(sk_X509_delete(scan->certs, i));
    } else {
      i++;
    }
  }
}

/* keypair_commit - move a file's certificates and key into kp */
static int keypair_commit(struct ftps_keypair *kp, struct keypair_scan *scan,
    const char *path, struct ftps_error *err) {
  int ncerts = scan->certs != NULL ? sk_X509_num(scan->certs) : 0;
  X509 *cert;

  if (ncerts == 0 && scan->key == NULL) {
    return keypair_fail(err, EINVAL,
      "no certificate and no private key in the file");
  }
  if (scan->key != NULL && kp->key != NULL &&
      EVP_PKEY_eq(kp->key, scan->key) != 1) {
    return keypair_fail(err, EEXIST, "a second, different private key");
  }

  /* A certificate the keypair has already (the same combined file named
   * as certificate and key file) is sent once, where it came first. */
  if (ncerts > 0) {
    keypair_drop_known(kp, scan);
    ncerts = sk_X509_num(scan->certs);
  }
  if (keypair_reserve_chain(kp, kp->cert == NULL ? ncerts - 1 : ncerts,
      err) < 0) {
    return -1;
  }

  /* From here on nothing can fail. */
  while (scan->certs != NULL && sk_X509_num(scan->certs) > 0) {
    cert = sk_X509_shift(scan->certs);
    if (kp->cert == NULL) {
      kp->cert = cert;
    } else {
      sk_X509_push(kp->chain, cert);
    }
  }
  if (scan->key != NULL && kp->key == NULL) {
    kp->key = scan->key;
    scan->key = NULL;
    snprintf(kp->key_path, sizeof(kp->key_path), "%s", path);
  }
  return 0;
}

/* keypair_check_origin - kp and a name that fits kp->key_path */
static int keypair_check_origin(struct ftps_keypair *kp, const char *origin,
    struct ftps_error *err) {
  if (kp == NULL || origin == NULL || *origin == '\0') {
    return keypair_fail(err, EINVAL, "no keypair or no file name");
  }
  if (strlen(origin) >= sizeof(kp->key_path)) {
    return keypair_fail(err, ENAMETOOLONG, "file name too long");
  }
  return 0;
}

/* keypair_read_pem - ftps_keypair_read_pem, or of the file path when buf
 * is NULL */
static int keypair_read_pem(struct ftps_keypair *kp, const char *buf,
    size_t len, const char *origin, ftps_keypair_pass_cb *pass_cb,
    void *pass_arg, struct ftps_error *err) {
  struct keypair_pass pass = { pass_cb, pass_arg, 0 };
  struct keypair_scan scan = { NULL, NULL, 1, &pass };
  int res;

  if (keypair_check_origin(kp, origin, err) < 0) {
    return -1;
  }

  if (buf == NULL) {
    res = keypair_scan_file(&scan, origin, err);
  } else {
    res = keypair_scan_mem(&scan, buf, len, err);
  }
  if (res == 0) {
    res = keypair_commit(kp, &scan, origin, err);
  }
  keypair_scan_free(&scan);
  return res;
}

int ftps_keypair_read_file(struct ftps_keypair *kp, const char *path,
    ftps_keypair_pass_cb *pass_cb, void *pass_arg, struct ftps_error *err) {
  return keypair_read_pem(kp, NULL, 0, path, pass_cb, pass_arg, err);
}

int ftps_keypair_read_pem(struct ftps_keypair *kp, const char *buf,
    size_t len, const char *origin, ftps_keypair_pass_cb *pass_cb,
    void *pass_arg, struct ftps_error *err) {
  if (buf == NULL) {
    return keypair_fail(err, EINVAL, "no PEM data");
  }
  return keypair_read_pem(kp, buf, len, origin, pass_cb, pass_arg, err);
}

/* keypair_read_chain - ftps_keypair_read_chain_pem, or of the file path
 * when buf is NULL */
static int keypair_read_chain(struct ftps_keypair *kp, const char *buf,
    size_t len, const char *path, struct ftps_error *err) {
  struct keypair_pass pass = { NULL, NULL, 0 };
  struct keypair_scan scan = { NULL, NULL, 0, &pass };
  int res, n;

  if (kp == NULL || (buf == NULL && (path == NULL || *path == '\0'))) {
    return keypair_fail(err, EINVAL, "no keypair or no file name");
  }

  if (buf == NULL) {
    res = keypair_scan_file(&scan, path, err);
  } else {
    res = keypair_scan_mem(&scan, buf, len, err);
  }
  if (res == 0 && (scan.certs == NULL || sk_X509_num(scan.certs) == 0)) {
    res = keypair_fail(err, EINVAL, "no certificate in the file");
  }
  if (res == 0) {
    keypair_drop_known(kp, &scan);
    n = sk_X509_num(scan.certs);
    res = keypair_reserve_chain(kp, n, err);
    while (res == 0 && sk_X509_num(scan.certs) > 0) {
      /* Cannot fail: the room is reserved. */
      sk_X509_push(kp->chain, sk_X509_shift(scan.certs));
    }
  }
  keypair_scan_free(&scan);
  return res;
}

int ftps_keypair_read_chain_file(struct ftps_keypair *kp, const char *path,
    struct ftps_error *err) {
  return keypair_read_chain(kp, NULL, 0, path, err);
}

int ftps_keypair_read_chain_pem(struct ftps_keypair *kp, const char *buf,
    size_t len, struct ftps_error *err) {
  if (buf == NULL) {
    return keypair_fail(err, EINVAL, "no PEM data");
  }
  return keypair_read_chain(kp, buf, len, NULL, err);
}

/* keypair_p12_pass - the password of p12 into pass (PEM_BUFSIZE bytes):
 * none or empty if the MAC verifies so, else the caller's passphrase;
 * returns the length (0: none), or -1 */
static int keypair_p12_pass(PKCS12 *p12, char *pass,
    struct keypair_pass *pw, struct ftps_error *err) {
  int len;

  pass[0] = '\0';
  if (!PKCS12_mac_present(p12) ||
      PKCS12_verify_mac(p12, NULL, 0) == 1 ||
      PKCS12_verify_mac(p12, "", 0) == 1) {
    ERR_clear_error();
    return 0;
  }

  len = keypair_pass_cb(pass, PEM_BUFSIZE, 0, pw);
  if (len <= 0) {
    return keypair_fail(err, ENOKEY,
      "encrypted PKCS#12 file and no passphrase available");
  }
  pass[len < PEM_BUFSIZE ? len : PEM_BUFSIZE - 1] = '\0';
  if (PKCS12_verify_mac(p12, pass, -1) != 1) {
    return keypair_fail(err, ENOKEY,
      "wrong passphrase for the PKCS#12 file");
  }
  return len;
}

/* keypair_p12_parse - the certificate, key and CA certificates of the
 * PKCS#12 data buf, into scan */
static int keypair_p12_parse(struct keypair_scan *scan, X509 **cert,
    const char *buf, size_t len, struct ftps_error *err) {
  const unsigned char *p = (const unsigned char *) buf;
  char pass[PEM_BUFSIZE];
  PKCS12 *p12;
  int res = 0;

  p12 = d2i_PKCS12(NULL, &p, (long) len);
  if (p12 == NULL) {
    return keypair_fail_ssl(err, EINVAL, "not a PKCS#12 (DER) file");
  }

  if (keypair_p12_pass(p12, pass, scan->pass, err) < 0) {
    res = -1;

  } else if (PKCS12_parse(p12, pass, &scan->key, cert,
      &scan->certs) != 1) {
    res = keypair_fail_ssl(err, EINVAL, "the PKCS#12 file does not parse "
      "(OpenSSL 3 needs its legacy provider for RC2 or 3DES: export it "
      "again with AES)");
  }
  OPENSSL_cleanse(pass, sizeof(pass));
  PKCS12_free(p12);
  return res;
}

int ftps_keypair_read_pkcs12(struct ftps_keypair *kp, const char *path,
    ftps_keypair_pass_cb *pass_cb, void *pass_arg, struct ftps_error *err) {
  char *buf = NULL;
  size_t len = 0;
  int res;

  if (keypair_check_origin(kp, path, err) < 0) {
    return -1;
  }
  if (kp->cert != NULL || kp->key != NULL) {
    return keypair_fail(err, EEXIST, "the keypair is taken");
  }
  if (keypair_slurp(path, &buf, &len, err) < 0) {
    return -1;
  }
  res = ftps_keypair_read_pkcs12_der(kp, buf, len, path, pass_cb, pass_arg,
    err);
  OPENSSL_clear_free(buf, len);
  return res;
}

int ftps_keypair_read_pkcs12_der(struct ftps_keypair *kp, const char *buf,
    size_t len, const char *origin, ftps_keypair_pass_cb *pass_cb,
    void *pass_arg, struct ftps_error *err) {
  struct keypair_pass pass = { pass_cb, pass_arg, 0 };
  struct keypair_scan scan = { NULL, NULL, 1, &pass };
  X509 *cert = NULL;
  int res;

  if (keypair_check_origin(kp, origin, err) < 0) {
    return -1;
  }
  if (kp->cert != NULL || kp->key != NULL) {
    return keypair_fail(err, EEXIST, "the keypair is taken");
  }
  if (buf == NULL || len > KEYPAIR_FILE_MAX) {
    return keypair_fail(err, EINVAL, "no PKCS#12 data, or too much");
  }
  res = keypair_p12_parse(&scan, &cert, buf, len, err);

  if (res == 0 && (cert == NULL || scan.key == NULL)) {
    res = keypair_fail(err, EINVAL, cert == NULL ? "no certificate in the "
      "PKCS#12 file" : "no private key in the PKCS#12 file");
  }
  if (res == 0) {
    /* The server's certificate first, then the CA certificates. */
    if (scan.certs == NULL) {
      scan.certs = sk_X509_new_null();
    }
    if (scan.certs == NULL || sk_X509_unshift(scan.certs, cert) <= 0) {
      res = keypair_fail(err, ENOMEM, "out of memory");
    } else {
      cert = NULL;
      res = keypair_commit(kp, &scan, origin, err);
    }
  }
  X509_free(cert);
  keypair_scan_free(&scan);
  return res;
}

int ftps_keypair_check(const struct ftps_keypair *kp, struct ftps_error *err) {
  if (kp == NULL || kp->cert == NULL) {
    return keypair_fail(err, ENOENT, "no certificate");
  }
  if (kp->key == NULL) {
    return keypair_fail(err, ENOKEY, "no private key");
  }
  ERR_clear_error();
  if (X509_check_private_key(kp->cert, kp->key) != 1) {
    return keypair_fail_ssl(err, EINVAL,
      "the private key does not match the certificate");
  }
  return 0;
}

const char *ftps_keypair_key_type(const struct ftps_keypair *kp) {
  EVP_PKEY *pub;

  if (kp == NULL || kp->cert == NULL) {
    return NULL;
  }
  pub = X509_get0_pubkey(kp->cert);
  if (pub == NULL) {
    return NULL;
  }

  /* Fixed names for the usual types: the provider's own name would do, but
   * its spelling is not promised. */
  switch (EVP_PKEY_get_base_id(pub)) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS";
    case EVP_PKEY_EC:
      return "EC";
    case EVP_PKEY_ED25519:
      return "ED25519";
    case EVP_PKEY_ED448:
      return "ED448";
    case EVP_PKEY_DSA:
      return "DSA";
    default:
      return EVP_PKEY_get0_type_name(pub);
  }
}

int ftps_keypair_expired(const struct ftps_keypair *kp, time_t now,
    char *buf, size_t bufsz) {
  const ASN1_TIME *not_after;
  struct tm tm;

  if (kp == NULL || kp->cert == NULL) {
    return 0;
  }
  not_after = X509_get0_notAfter(kp->cert);
  if (not_after == NULL || X509_cmp_time(not_after, &now) >= 0) {
    /* 0 is "cannot tell": verification will have its own say. */
    return 0;
  }

  if (buf != NULL && bufsz > 0) {
    buf[0] = '\0';
    if (ASN1_TIME_to_tm(not_after, &tm) == 1) {
      if (strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        buf[0] = '\0';
      }
    }
  }
  return 1;
}

int ftps_keypair_key_file_exposed(const struct ftps_keypair *kp) {
  struct stat st;

  if (kp == NULL || kp->key_path[0] == '\0') {
    return 0;
  }
  if (stat(kp->key_path, &st) < 0) {
    return 0;
  }
  return (st.st_mode & 077) != 0;
}

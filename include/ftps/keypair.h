/*
 * ftps/keypair.h - server certificate, chain and private key from PEM files.
 *
 * A keypair is filled from one or more files.  Each file is read once, in one
 * pass, and every PEM block in it is classified: certificates (the first one
 * read is the server's, the rest are its chain, in file order, so a
 * fullchain.pem works as is) and at most one private key, before or after the
 * certificates.  Reading the certificate and key from a single buffer avoids
 * a race with a key rollover between two opens of the same file.
 *
 * Blocks of other types (EC PARAMETERS, DH PARAMETERS, X509 CRL, ...) are
 * skipped.  Nothing here knows about ProFTPD; nothing here logs.
 */
#ifndef FTPS_KEYPAIR_H
#define FTPS_KEYPAIR_H

#include <time.h>
#include <openssl/ssl.h>

#include "ftps/error.h"

struct ftps_keypair {
  X509 *cert;                  /* the server certificate (first one read) */
  STACK_OF(X509) *chain;       /* further certificates, in file order */
  EVP_PKEY *key;               /* the private key */
  char key_path[4096];         /* file the key was read from ("" if none) */
};

/* Supplies the passphrase of an encrypted key: writes at most bufsz bytes to
 * buf and returns the length, or -1 when no passphrase can be had.  The same
 * shape as OpenSSL's pem_password_cb (rwflag is always 0). */
typedef int ftps_keypair_pass_cb(char *buf, int bufsz, int rwflag, void *arg);

/* ftps_keypair_init - make kp empty */
void ftps_keypair_init(struct ftps_keypair *kp);

/* ftps_keypair_free - release what kp holds and make it empty again */
void ftps_keypair_free(struct ftps_keypair *kp);

/* ftps_keypair_read_file - read every PEM block of path into kp.
 * Certificates are appended (the first one ever read becomes kp->cert); a
 * private key is stored unless kp already holds one: an identical key is
 * accepted, a different one is an error.  pass_cb may be NULL: then an
 * encrypted key is an error, and OpenSSL never prompts on a terminal.
 * Returns 0, or -1 with errno and err->msg set (the message gives the reason
 * only; the caller names the directive and the file):
 *   ENOENT  the file does not exist
 *   EACCES  the file cannot be read (permissions)
 *   EISDIR  path is not a regular file
 *   EINVAL  no PEM block in the file, or a block that does not parse
 *   EEXIST  a second, different private key
 *   ENOKEY  an encrypted private key and no passphrase (or a wrong one) */
int ftps_keypair_read_file(struct ftps_keypair *kp, const char *path,
  ftps_keypair_pass_cb *pass_cb, void *pass_arg, struct ftps_error *err);

/* ftps_keypair_read_pem - the same from len bytes of PEM text at buf (a
 * file already read, or a fuzzing harness's input); origin is recorded as
 * kp->key_path when the key comes from it.  Errors as above, without the
 * file's own. */
int ftps_keypair_read_pem(struct ftps_keypair *kp, const char *buf,
  size_t len, const char *origin, ftps_keypair_pass_cb *pass_cb,
  void *pass_arg, struct ftps_error *err);

/* ftps_keypair_read_pkcs12 - the certificate, private key and CA
 * certificates (the chain) of a PKCS#12 file (TLSPKCS12File) into the
 * empty kp.  A file without a MAC password, or with an empty one, is read
 * as is; otherwise pass_cb gives the password.  Errors as
 * ftps_keypair_read_file (EINVAL also: not PKCS#12, or an algorithm
 * OpenSSL 3 has only in its legacy provider; EEXIST: kp is not empty). */
int ftps_keypair_read_pkcs12(struct ftps_keypair *kp, const char *path,
  ftps_keypair_pass_cb *pass_cb, void *pass_arg, struct ftps_error *err);

/* ftps_keypair_read_pkcs12_der - the same from len bytes of DER at buf;
 * origin as for ftps_keypair_read_pem */
int ftps_keypair_read_pkcs12_der(struct ftps_keypair *kp, const char *buf,
  size_t len, const char *origin, ftps_keypair_pass_cb *pass_cb,
  void *pass_arg, struct ftps_error *err);

/* ftps_keypair_read_chain_file - append the certificates of path to the
 * chain, skipping any that equal kp->cert or one already in the chain.
 * A private key in this file is an error (EINVAL).  Errors as above. */
int ftps_keypair_read_chain_file(struct ftps_keypair *kp, const char *path,
  struct ftps_error *err);

/* ftps_keypair_read_chain_pem - the same from len bytes of PEM text */
int ftps_keypair_read_chain_pem(struct ftps_keypair *kp, const char *buf,
  size_t len, struct ftps_error *err);

/* ftps_keypair_check - kp is usable by a server: it has a certificate
 * (ENOENT: "no certificate"), a private key (ENOKEY: "no private key") and
 * the key belongs to the certificate (EINVAL: "the private key does not
 * match the certificate").  Returns 0 or -1. */
int ftps_keypair_check(const struct ftps_keypair *kp, struct ftps_error *err);

/* ftps_keypair_key_type - "RSA", "EC", "ED25519", ... for kp->cert's public
 * key, or NULL when there is no certificate */
const char *ftps_keypair_key_type(const struct ftps_keypair *kp);

/* ftps_keypair_expired - 1 if kp->cert's notAfter lies before now, else 0;
 * when it has expired and buf is not NULL, the date is written to buf */
int ftps_keypair_expired(const struct ftps_keypair *kp, time_t now,
  char *buf, size_t bufsz);

/* ftps_keypair_key_file_exposed - 1 if the key file kp->key_path can be read
 * by group or others (mode & 077), 0 if not or when there is no key file */
int ftps_keypair_key_file_exposed(const struct ftps_keypair *kp);

#endif /* FTPS_KEYPAIR_H */

/*
 * check_keypair.c - unit tests of mod_ftps/keypair.c over the fixtures of
 * tests/fixtures/mkcerts.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "ftps/keypair.h"
#include "unit.h"

static struct ftps_keypair kp;
static struct ftps_error err;
static char tmp_path[4096];

static void setup(void) {
  ftps_keypair_init(&kp);
  ftps_error_clear(&err);
  tmp_path[0] = '\0';
}

static void teardown(void) {
  ftps_keypair_free(&kp);
  if (tmp_path[0] != '\0') {
    unlink(tmp_path);
  }
}

/* fx - fixture path in a buffer of its own (unit_fixture's is shared) */
static const char *fx(const char *name) {
  static char paths[4][4096];
  static int next;
  char *p = paths[next++ % 4];

  snprintf(p, sizeof(paths[0]), "%s", unit_fixture(name));
  return p;
}

/* read_fx - ftps_keypair_read_file of a fixture, without passphrase */
static int read_fx(const char *name) {
  return ftps_keypair_read_file(&kp, fx(name), NULL, NULL, &err);
}

/* slurp - the whole of a file, NUL-terminated, malloc'ed */
static char *slurp(const char *path) {
  FILE *fp = fopen(path, "r");
  char *buf;
  long n;

  ck_assert_msg(fp != NULL, "cannot open %s", path);
  fseek(fp, 0, SEEK_END);
  n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  buf = calloc(1, n + 1);
  ck_assert_int_eq(fread(buf, 1, n, fp), n);
  fclose(fp);
  return buf;
}

/* write_tmp - a temporary file holding text; removed by teardown */
static const char *write_tmp(const char *text) {
  int fd;
  size_t len = strlen(text);

  snprintf(tmp_path, sizeof(tmp_path), "/tmp/check_keypair.XXXXXX");
  fd = mkstemp(tmp_path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
  close(fd);
  return tmp_path;
}

/* replace - text with the first "from" replaced by "to", malloc'ed */
static char *replace(const char *text, const char *from, const char *to) {
  const char *at = strstr(text, from);
  size_t pre;
  char *out;

  ck_assert_ptr_nonnull(at);
  pre = at - text;
  out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
  memcpy(out, text, pre);
  strcpy(out + pre, to);
  strcat(out, at + strlen(from));
  return out;
}

/* assert_clean_msg - err.msg is set and quotes nothing of the PEM file */
static void assert_clean_msg(const char *path) {
  char *text, *line, *save = NULL;

  ck_assert_msg(err.msg[0] != '\0', "empty error message");
  ck_assert_ptr_null(strstr(err.msg, "-----"));
  ck_assert_ptr_null(strstr(err.msg, "BEGIN"));
  if (path == NULL) {
    return;
  }

  /* No 16-byte run of any base64 line may appear in the message. */
  text = slurp(path);
  for (line = strtok_r(text, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    char probe[17];

    if (strlen(line) < 16 || strncmp(line, "-----", 5) == 0) {
      continue;
    }
    memcpy(probe, line, 16);
    probe[16] = '\0';
    ck_assert_msg(strstr(err.msg, probe) == NULL, "key bytes in: %s",
      err.msg);
  }
  free(text);
}

/* expect_fail - the last call failed with errnum and a clean message */
#define expect_fail(res, errnum, path) do {                        \
    int res_ = (res), errno_ = errno;                              \
    ck_assert_int_eq(res_, -1);                                    \
    ck_assert_msg(errno_ == (errnum), "errno %d (%s), want %d",    \
      errno_, strerror(errno_), (errnum));                         \
    assert_clean_msg(path);                                        \
  } while (0)

static int chain_len(void) {
  return kp.chain == NULL ? 0 : sk_X509_num(kp.chain);
}

/* Passphrase callbacks: arg is the passphrase, or NULL to refuse. */
static int pass_calls;
static int last_rwflag = -1;

static int pass_cb(char *buf, int size, int rwflag, void *arg) {
  const char *pass = arg;
  int len;

  pass_calls++;
  last_rwflag = rwflag;
  if (pass == NULL) {
    return -1;
  }
  len = (int) strlen(pass);
  if (len > size) {
    return -1;
  }
  memcpy(buf, pass, len);
  return len;
}

/* ---- PKCS#12 (TLSPKCS12File) ---------------------------------------- */

/* write_p12 - fullchain.pem's leaf and intermediate with ec.key as a
 * PKCS#12 file protected by pass (AES, as OpenSSL 3 writes by default) */
static const char *write_p12(const char *pass) {
  struct ftps_keypair src;
  PKCS12 *p12;
  FILE *fp;
  int fd;

  ftps_keypair_init(&src);
  ck_assert_int_eq(ftps_keypair_read_file(&src, fx("fullchain.pem"), NULL,
    NULL, &err), 0);
  ck_assert_int_eq(ftps_keypair_read_file(&src, fx("ec.key"), NULL, NULL,
    &err), 0);
  p12 = PKCS12_create(pass, "server", src.key, src.cert, src.chain,
    NID_aes_256_cbc, NID_aes_256_cbc, 0, 0, 0);
  ck_assert_ptr_nonnull(p12);

  snprintf(tmp_path, sizeof(tmp_path), "/tmp/check_keypair.XXXXXX");
  fd = mkstemp(tmp_path);
  ck_assert_int_ge(fd, 0);
  fp = fdopen(fd, "wb");
  ck_assert_int_eq(i2d_PKCS12_fp(fp, p12), 1);
  fclose(fp);
  PKCS12_free(p12);
  ftps_keypair_free(&src);
  return tmp_path;
}

START_TEST(test_pkcs12_empty_password) {
  const char *path = write_p12("");

  pass_calls = 0;
  ck_assert_int_eq(ftps_keypair_read_pkcs12(&kp, path, pass_cb, NULL, &err),
    0);
  ck_assert_int_eq(pass_calls, 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "EC");
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_str_eq(kp.key_path, path);
}
END_TEST

START_TEST(test_pkcs12_password) {
  const char *path = write_p12("p12-secret");

  ck_assert_int_eq(ftps_keypair_read_pkcs12(&kp, path, pass_cb,
    "p12-secret", &err), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_int_eq(chain_len(), 1);
}
END_TEST

START_TEST(test_pkcs12_no_or_wrong_password) {
  const char *path = write_p12("p12-secret");

  expect_fail(ftps_keypair_read_pkcs12(&kp, path, NULL, NULL, &err), ENOKEY,
    NULL);
  expect_fail(ftps_keypair_read_pkcs12(&kp, path, pass_cb, NULL, &err),
    ENOKEY, NULL);
  expect_fail(ftps_keypair_read_pkcs12(&kp, path, pass_cb, "wrong", &err),
    ENOKEY, NULL);
  ck_assert_ptr_null(kp.cert);
  ck_assert_ptr_null(kp.key);
}
END_TEST

START_TEST(test_pkcs12_not_pkcs12) {
  expect_fail(ftps_keypair_read_pkcs12(&kp, fx("rsa.crt"), NULL, NULL, &err),
    EINVAL, NULL);
  expect_fail(ftps_keypair_read_pkcs12(&kp, fx("missing.p12"), NULL, NULL,
    &err), ENOENT, NULL);
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  expect_fail(ftps_keypair_read_pkcs12(&kp, fx("rsa.crt"), NULL, NULL, &err),
    EEXIST, NULL);
}
END_TEST

/* ---- from memory (what the fuzzing harnesses call) --------------------- */

START_TEST(test_read_pem_from_memory) {
  char *pem = slurp(fx("combined-cert-first.pem"));
  char *chain = slurp(fx("chain.pem"));

  ck_assert_int_eq(ftps_keypair_read_pem(&kp, pem, strlen(pem), "origin",
    NULL, NULL, &err), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(kp.key_path, "origin");
  ck_assert_int_eq(ftps_keypair_read_chain_pem(&kp, chain, strlen(chain),
    &err), 0);
  ck_assert_int_eq(chain_len(), 1);

  /* Only the first len bytes count: a cut block is malformed. */
  ftps_keypair_free(&kp);
  expect_fail(ftps_keypair_read_pem(&kp, pem, strlen(pem) / 2, "origin",
    NULL, NULL, &err), EINVAL, NULL);
  expect_fail(ftps_keypair_read_pem(&kp, pem, 0, "origin", NULL, NULL,
    &err), EINVAL, NULL);
  expect_fail(ftps_keypair_read_pem(&kp, NULL, 0, "origin", NULL, NULL,
    &err), EINVAL, NULL);
  expect_fail(ftps_keypair_read_chain_pem(&kp, NULL, 0, &err), EINVAL, NULL);
  ck_assert_ptr_null(kp.cert);
  free(pem);
  free(chain);
}
END_TEST

START_TEST(test_read_pkcs12_from_memory) {
  char *der = NULL;
  size_t len = 0;
  FILE *fp = fopen(write_p12("p12-secret"), "rb");

  ck_assert_ptr_nonnull(fp);
  der = malloc(65536);
  len = fread(der, 1, 65536, fp);
  fclose(fp);
  ck_assert_int_gt(len, 0);

  expect_fail(ftps_keypair_read_pkcs12_der(&kp, der, len, "origin", NULL,
    NULL, &err), ENOKEY, NULL);
  expect_fail(ftps_keypair_read_pkcs12_der(&kp, der, len / 2, "origin",
    pass_cb, "p12-secret", &err), EINVAL, NULL);
  ck_assert_int_eq(ftps_keypair_read_pkcs12_der(&kp, der, len, "origin",
    pass_cb, "p12-secret", &err), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_str_eq(kp.key_path, "origin");
  free(der);
}
END_TEST

/* ---- arguments -------------------------------------------------------- */

START_TEST(test_null_args) {
  ftps_keypair_init(NULL);
  ftps_keypair_free(NULL);

  expect_fail(ftps_keypair_read_file(NULL, fx("rsa.crt"), NULL, NULL, &err),
    EINVAL, NULL);
  expect_fail(ftps_keypair_read_file(&kp, NULL, NULL, NULL, &err), EINVAL,
    NULL);
  expect_fail(ftps_keypair_read_file(&kp, "", NULL, NULL, &err), EINVAL,
    NULL);
  expect_fail(ftps_keypair_read_chain_file(NULL, fx("chain.pem"), &err),
    EINVAL, NULL);
  expect_fail(ftps_keypair_read_chain_file(&kp, NULL, &err), EINVAL, NULL);
  expect_fail(ftps_keypair_check(NULL, &err), ENOENT, NULL);

  ck_assert_ptr_null(ftps_keypair_key_type(NULL));
  ck_assert_int_eq(ftps_keypair_expired(NULL, time(NULL), NULL, 0), 0);
  ck_assert_int_eq(ftps_keypair_key_file_exposed(NULL), 0);

  /* err may be NULL. */
  errno = 0;
  ck_assert_int_eq(ftps_keypair_read_file(&kp, fx("nonexistent.pem"), NULL,
    NULL, NULL), -1);
  ck_assert_int_eq(errno, ENOENT);
  ck_assert_int_eq(read_fx("rsa.crt"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, NULL), -1);
}
END_TEST

START_TEST(test_empty_keypair) {
  ck_assert_ptr_null(kp.cert);
  ck_assert_ptr_null(kp.chain);
  ck_assert_ptr_null(kp.key);
  ck_assert_str_eq(kp.key_path, "");
  expect_fail(ftps_keypair_check(&kp, &err), ENOENT, NULL);
  ck_assert_str_eq(err.msg, "no certificate");
  ck_assert_ptr_null(ftps_keypair_key_type(&kp));
  ck_assert_int_eq(ftps_keypair_expired(&kp, time(NULL), NULL, 0), 0);
  ck_assert_int_eq(ftps_keypair_key_file_exposed(&kp), 0);
}
END_TEST

START_TEST(test_path_too_long) {
  char path[5000];

  memset(path, 'a', sizeof(path) - 1);
  path[sizeof(path) - 1] = '\0';
  expect_fail(ftps_keypair_read_file(&kp, path, NULL, NULL, &err),
    ENAMETOOLONG, NULL);
}
END_TEST

/* ---- combined and split files ----------------------------------------- */

START_TEST(test_combined_cert_first) {
  ck_assert_int_eq(read_fx("combined-cert-first.pem"), 0);
  ck_assert_ptr_nonnull(kp.cert);
  ck_assert_ptr_nonnull(kp.key);
  ck_assert_int_eq(chain_len(), 0);
  ck_assert_str_eq(kp.key_path, fx("combined-cert-first.pem"));
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "RSA");
}
END_TEST

START_TEST(test_combined_key_first) {
  ck_assert_int_eq(read_fx("combined-key-first.pem"), 0);
  ck_assert_ptr_nonnull(kp.cert);
  ck_assert_ptr_nonnull(kp.key);
  ck_assert_int_eq(chain_len(), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "RSA");
}
END_TEST

START_TEST(test_split_files) {
  ck_assert_int_eq(read_fx("rsa.crt"), 0);
  ck_assert_ptr_null(kp.key);
  ck_assert_str_eq(kp.key_path, "");
  ck_assert_int_eq(read_fx("rsa.key"), 0);
  ck_assert_str_eq(kp.key_path, fx("rsa.key"));
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
}
END_TEST

START_TEST(test_split_key_then_cert) {
  ck_assert_int_eq(read_fx("ec.key"), 0);
  ck_assert_ptr_null(kp.cert);
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_str_eq(kp.key_path, fx("ec.key"));
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "EC");
}
END_TEST

START_TEST(test_fullchain) {
  X509 *inter;
  BIO *bio;

  ck_assert_int_eq(read_fx("fullchain.pem"), 0);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_int_eq(read_fx("ec.key"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);

  /* The chain holds the intermediate, the leaf stays kp.cert. */
  bio = BIO_new_file(fx("inter.pem"), "r");
  inter = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  ck_assert_ptr_nonnull(inter);
  ck_assert_int_eq(X509_cmp(sk_X509_value(kp.chain, 0), inter), 0);
  ck_assert_int_ne(X509_cmp(kp.cert, inter), 0);
  X509_free(inter);
}
END_TEST

START_TEST(test_combined_fullchain_key_first) {
  ck_assert_int_eq(read_fx("combined-fullchain.pem"), 0);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "EC");
}
END_TEST

/* One combined file named as TLSRSACertificateFile and as
 * TLSRSACertificateKeyFile: each certificate once (issue 11, item 21). */
START_TEST(test_combined_file_read_twice) {
  X509 *leaf;

  ck_assert_int_eq(read_fx("combined-fullchain.pem"), 0);
  leaf = kp.cert;
  ck_assert_int_eq(read_fx("combined-fullchain.pem"), 0);
  ck_assert_ptr_eq(kp.cert, leaf);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_int_ne(X509_cmp(sk_X509_value(kp.chain, 0), leaf), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);

  /* A fullchain.pem read again as the key file of itself adds nothing. */
  ftps_keypair_free(&kp);
  ck_assert_int_eq(read_fx("fullchain.pem"), 0);
  ck_assert_int_eq(read_fx("fullchain.pem"), 0);
  ck_assert_int_eq(chain_len(), 1);
}
END_TEST

START_TEST(test_second_file_certs_go_to_chain) {
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_int_eq(read_fx("chain.pem"), 0);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_int_eq(read_fx("ec.key"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
}
END_TEST

/* ---- chain files ------------------------------------------------------ */

START_TEST(test_chain_file) {
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_int_eq(read_fx("ec.key"), 0);
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, fx("chain.pem"), &err),
    0);
  ck_assert_int_eq(chain_len(), 1);

  /* The same intermediate again, and the leaf itself: both skipped. */
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, fx("chain.pem"), &err),
    0);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, fx("fullchain.pem"),
    &err), 0);
  ck_assert_int_eq(chain_len(), 1);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
}
END_TEST

START_TEST(test_chain_file_after_fullchain) {
  ck_assert_int_eq(read_fx("fullchain.pem"), 0);
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, fx("chain.pem"), &err),
    0);
  ck_assert_int_eq(chain_len(), 1);
}
END_TEST

START_TEST(test_chain_file_duplicates_within) {
  char *a = slurp(fx("inter.pem")), *b = slurp(fx("ca.pem"));
  char *text = malloc(3 * strlen(a) + strlen(b) + 1);

  /* inter, ca, inter, inter: two distinct certificates, in file order. */
  sprintf(text, "%s%s%s%s", a, b, a, a);
  ck_assert_int_eq(read_fx("rsa.crt"), 0);
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, write_tmp(text), &err),
    0);
  ck_assert_int_eq(chain_len(), 2);
  ck_assert_int_ne(X509_cmp(sk_X509_value(kp.chain, 0),
    sk_X509_value(kp.chain, 1)), 0);
  free(a);
  free(b);
  free(text);
}
END_TEST

START_TEST(test_chain_file_without_cert) {
  /* The certificates go to the chain, never to kp.cert. */
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, fx("chain.pem"), &err),
    0);
  ck_assert_ptr_null(kp.cert);
  ck_assert_int_eq(chain_len(), 1);
}
END_TEST

START_TEST(test_chain_file_errors) {
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  expect_fail(ftps_keypair_read_chain_file(&kp, fx("combined-fullchain.pem"),
    &err), EINVAL, fx("combined-fullchain.pem"));
  ck_assert_int_eq(chain_len(), 0);
  expect_fail(ftps_keypair_read_chain_file(&kp, fx("key-only.pem"), &err),
    EINVAL, fx("key-only.pem"));
  expect_fail(ftps_keypair_read_chain_file(&kp, fx("garbage.pem"), &err),
    EINVAL, fx("garbage.pem"));
  expect_fail(ftps_keypair_read_chain_file(&kp, fx("empty.pem"), &err),
    EINVAL, NULL);
  expect_fail(ftps_keypair_read_chain_file(&kp, fx("nonexistent.pem"), &err),
    ENOENT, NULL);
  ck_assert_ptr_null(kp.key);
  ck_assert_int_eq(chain_len(), 0);
}
END_TEST

/* ---- keys that do not fit --------------------------------------------- */

START_TEST(test_mismatch) {
  ck_assert_int_eq(read_fx("mismatch.pem"), 0);
  expect_fail(ftps_keypair_check(&kp, &err), EINVAL, fx("mismatch.pem"));
  ck_assert_ptr_nonnull(strstr(err.msg,
    "the private key does not match the certificate"));
}
END_TEST

START_TEST(test_mismatch_same_type) {
  /* Two P-256 keys: same type and curve, different public points. */
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_int_eq(read_fx("inter.key"), 0);
  expect_fail(ftps_keypair_check(&kp, &err), EINVAL, fx("inter.key"));
}
END_TEST

START_TEST(test_two_keys) {
  expect_fail(read_fx("two-keys.pem"), EEXIST, fx("two-keys.pem"));
  /* Nothing of a failed file is kept. */
  ck_assert_ptr_null(kp.cert);
  ck_assert_ptr_null(kp.key);
  ck_assert_str_eq(kp.key_path, "");
}
END_TEST

START_TEST(test_two_keys_two_files) {
  ck_assert_int_eq(read_fx("rsa.key"), 0);
  expect_fail(read_fx("combined-fullchain.pem"), EEXIST,
    fx("combined-fullchain.pem"));
  ck_assert_ptr_null(kp.cert);
  ck_assert_int_eq(chain_len(), 0);
  ck_assert_str_eq(kp.key_path, fx("rsa.key"));
}
END_TEST

START_TEST(test_dup_key) {
  ck_assert_int_eq(read_fx("dup-key.pem"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);

  /* The same key from a second file is accepted; the first path stays. */
  ck_assert_int_eq(read_fx("ec.key"), 0);
  ck_assert_str_eq(kp.key_path, fx("dup-key.pem"));
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
}
END_TEST

/* ---- encrypted keys --------------------------------------------------- */

/* detached_read - read name with no passphrase callback in a child that
 * has no controlling terminal, an stdin that never delivers and stderr
 * captured: a prompt would hang (the child is then killed after a deadline;
 * alarm() would not do, OpenSSL's prompt catches signals) or show in
 * stderr.  Returns the child's exit status: errno of the failure, or 0. */
static int detached_read(const char *name, char *out, size_t outsz) {
  int in[2], errp[2], status = 0, i;
  pid_t pid, done = 0;
  ssize_t n;

  ck_assert_int_eq(pipe(in), 0);
  ck_assert_int_eq(pipe(errp), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct ftps_keypair ckp;
    int res;

    setsid();
    dup2(in[0], 0);
    dup2(errp[1], 2);
    close(in[1]);
    ftps_keypair_init(&ckp);
    res = ftps_keypair_read_file(&ckp, fx(name), NULL, NULL, &err);
    res = res == 0 ? 0 : errno;
    if (write(2, err.msg, strlen(err.msg)) < 0) {
      res = 255;
    }
    ftps_keypair_free(&ckp);
    _exit(res);
  }

  close(in[0]);
  close(errp[1]);
  for (i = 0; i < 1000 && done == 0; i++) {
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) {
      usleep(10000);
    }
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  n = read(errp[0], out, outsz - 1);
  out[n > 0 ? n : 0] = '\0';
  close(in[1]);
  close(errp[0]);
  ck_assert_msg(done == pid, "the child hung: OpenSSL prompted? (%s)", out);
  ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return WEXITSTATUS(status);
}

START_TEST(test_encrypted_no_callback) {
  char out[1024];

  ck_assert_int_eq(detached_read("encrypted.key", out, sizeof(out)), ENOKEY);
  /* stderr holds our message only: no "Enter pass phrase" prompt. */
  ck_assert_str_eq(out, "encrypted private key and no passphrase available");

  ck_assert_int_eq(detached_read("encrypted-legacy.key", out, sizeof(out)),
    ENOKEY);
  ck_assert_str_eq(out, "encrypted private key and no passphrase available");

  expect_fail(read_fx("encrypted.key"), ENOKEY, fx("encrypted.key"));
  ck_assert_ptr_null(kp.key);
}
END_TEST

START_TEST(test_encrypted_refused) {
  pass_calls = 0;
  expect_fail(ftps_keypair_read_file(&kp, fx("encrypted.key"), pass_cb, NULL,
    &err), ENOKEY, fx("encrypted.key"));
  ck_assert_str_eq(err.msg,
    "encrypted private key and no passphrase available");
  ck_assert_int_gt(pass_calls, 0);
}
END_TEST

START_TEST(test_encrypted_pkcs8) {
  pass_calls = 0;
  ck_assert_int_eq(ftps_keypair_read_file(&kp, fx("encrypted.key"), pass_cb,
    "secret", &err), 0);
  ck_assert_int_gt(pass_calls, 0);
  ck_assert_int_eq(last_rwflag, 0);
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(kp.key_path, fx("encrypted.key"));
}
END_TEST

START_TEST(test_encrypted_legacy) {
  ck_assert_int_eq(ftps_keypair_read_file(&kp, fx("encrypted-legacy.key"),
    pass_cb, "secret", &err), 0);
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
}
END_TEST

START_TEST(test_encrypted_wrong_passphrase) {
  expect_fail(ftps_keypair_read_file(&kp, fx("encrypted.key"), pass_cb,
    "wrong", &err), ENOKEY, fx("encrypted.key"));
  ck_assert_ptr_nonnull(strstr(err.msg,
    "wrong passphrase for the encrypted private key"));
  expect_fail(ftps_keypair_read_file(&kp, fx("encrypted-legacy.key"),
    pass_cb, "wrong", &err), ENOKEY, fx("encrypted-legacy.key"));
  ck_assert_ptr_nonnull(strstr(err.msg,
    "wrong passphrase for the encrypted private key"));
  ck_assert_ptr_null(kp.key);
}
END_TEST

START_TEST(test_plain_key_ignores_callback) {
  pass_calls = 0;
  ck_assert_int_eq(ftps_keypair_read_file(&kp, fx("ec.key"), pass_cb, NULL,
    &err), 0);
  ck_assert_int_eq(pass_calls, 0);
}
END_TEST

/* ---- half a keypair --------------------------------------------------- */

START_TEST(test_cert_only) {
  ck_assert_int_eq(read_fx("cert-only.pem"), 0);
  expect_fail(ftps_keypair_check(&kp, &err), ENOKEY, NULL);
  ck_assert_str_eq(err.msg, "no private key");
  ck_assert_int_eq(ftps_keypair_key_file_exposed(&kp), 0);
}
END_TEST

START_TEST(test_key_only) {
  ck_assert_int_eq(read_fx("key-only.pem"), 0);
  expect_fail(ftps_keypair_check(&kp, &err), ENOENT, NULL);
  ck_assert_str_eq(err.msg, "no certificate");
  ck_assert_ptr_null(ftps_keypair_key_type(&kp));
}
END_TEST

/* ---- bad files -------------------------------------------------------- */

START_TEST(test_garbage) {
  expect_fail(read_fx("garbage.pem"), EINVAL, fx("garbage.pem"));
}
END_TEST

START_TEST(test_empty_file) {
  expect_fail(read_fx("empty.pem"), EINVAL, NULL);
}
END_TEST

START_TEST(test_missing_file) {
  expect_fail(read_fx("nonexistent.pem"), ENOENT, NULL);
}
END_TEST

START_TEST(test_directory) {
  expect_fail(ftps_keypair_read_file(&kp, "/tmp", NULL, NULL, &err), EISDIR,
    NULL);
  expect_fail(ftps_keypair_read_file(&kp, "/dev/null", NULL, NULL, &err),
    EISDIR, NULL);
}
END_TEST

START_TEST(test_unreadable) {
  const char *path = write_tmp("-----BEGIN X-----\n-----END X-----\n");

  ck_assert_int_eq(chmod(path, 0), 0);
  if (geteuid() == 0) {
    /* root reads anything: nothing to test. */
    return;
  }
  expect_fail(ftps_keypair_read_file(&kp, path, NULL, NULL, &err), EACCES,
    NULL);
}
END_TEST

START_TEST(test_truncated_block) {
  char *text = slurp(fx("combined-cert-first.pem"));
  char *end = strstr(text, "-----END CERTIFICATE");

  *end = '\0';
  expect_fail(ftps_keypair_read_file(&kp, write_tmp(text), NULL, NULL, &err),
    EINVAL, fx("combined-cert-first.pem"));
  ck_assert_ptr_null(kp.cert);
  ck_assert_ptr_null(kp.key);
  free(text);
}
END_TEST

START_TEST(test_corrupt_cert) {
  char *text = slurp(fx("rsa.crt"));
  char *p = strchr(text, '\n') + 1;

  /* Valid base64, invalid DER. */
  memcpy(p, "AAAAAAAA", 8);
  expect_fail(ftps_keypair_read_file(&kp, write_tmp(text), NULL, NULL, &err),
    EINVAL, fx("rsa.crt"));
  free(text);
}
END_TEST

START_TEST(test_unknown_key_type) {
  char *text = slurp(fx("key-only.pem"));
  char *t1 = replace(text, "BEGIN RSA", "BEGIN FOO");
  char *t2 = replace(t1, "END RSA", "END FOO");

  expect_fail(ftps_keypair_read_file(&kp, write_tmp(t2), NULL, NULL, &err),
    EINVAL, fx("key-only.pem"));
  free(text);
  free(t1);
  free(t2);
}
END_TEST

START_TEST(test_only_other_blocks) {
  char *text = slurp(fx("with-dhparams.pem"));
  char *dh = strstr(text, "-----BEGIN DH PARAMETERS");

  expect_fail(ftps_keypair_read_file(&kp, write_tmp(dh), NULL, NULL, &err),
    EINVAL, NULL);
  free(text);
}
END_TEST

/* ---- other blocks and names ------------------------------------------- */

START_TEST(test_ecparams_skipped) {
  ck_assert_int_eq(read_fx("with-ecparams.pem"), 0);
  ck_assert_int_eq(chain_len(), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "EC");
}
END_TEST

START_TEST(test_dhparams_skipped) {
  ck_assert_int_eq(read_fx("with-dhparams.pem"), 0);
  ck_assert_int_eq(chain_len(), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
}
END_TEST

START_TEST(test_text_between_blocks) {
  char *crt = slurp(fx("ec.crt")), *key = slurp(fx("ec.key"));
  char *text = malloc(strlen(crt) + strlen(key) + 64);

  sprintf(text, "subject=CN = localhost\n%s\nsome words\n%s", crt, key);
  ck_assert_int_eq(ftps_keypair_read_file(&kp, write_tmp(text), NULL, NULL,
    &err), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  free(crt);
  free(key);
  free(text);
}
END_TEST

START_TEST(test_old_and_trusted_names) {
  char *text = slurp(fx("combined-cert-first.pem"));
  char *t1 = replace(text, "BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE");
  char *t2 = replace(t1, "END CERTIFICATE", "END X509 CERTIFICATE");
  char *trusted;
  BIO *bio;

  ck_assert_int_eq(ftps_keypair_read_file(&kp, write_tmp(t2), NULL, NULL,
    &err), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);

  /* TRUSTED CERTIFICATE, as "openssl x509 -trustout" writes it. */
  bio = BIO_new_file(tmp_path, "w");
  ck_assert_ptr_nonnull(bio);
  ck_assert_int_eq(PEM_write_bio_X509_AUX(bio, kp.cert), 1);
  BIO_free(bio);
  trusted = slurp(tmp_path);
  ck_assert_ptr_nonnull(strstr(trusted, "BEGIN TRUSTED CERTIFICATE"));

  ftps_keypair_free(&kp);
  ck_assert_int_eq(ftps_keypair_read_file(&kp, tmp_path, NULL, NULL, &err),
    0);
  ck_assert_int_eq(read_fx("rsa.key"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  free(text);
  free(t1);
  free(t2);
  free(trusted);
}
END_TEST

/* ---- properties ------------------------------------------------------- */

START_TEST(test_key_types) {
  ck_assert_int_eq(read_fx("rsa.crt"), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "RSA");
  ftps_keypair_free(&kp);
  ck_assert_int_eq(read_fx("ec.crt"), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "EC");
}
END_TEST

START_TEST(test_expired) {
  char date[64];
  time_t now = time(NULL);

  ck_assert_int_eq(read_fx("expired.pem"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  memset(date, 'x', sizeof(date));
  ck_assert_int_eq(ftps_keypair_expired(&kp, now, date, sizeof(date)), 1);
  ck_assert_int_eq(strlen(date), strlen("2026-01-01 00:00:00 UTC"));
  ck_assert_ptr_nonnull(strstr(date, " UTC"));
  ck_assert_int_eq(ftps_keypair_expired(&kp, now, NULL, 0), 1);
  ck_assert_int_eq(ftps_keypair_expired(&kp, now, date, 1), 1);
  ck_assert_str_eq(date, "");
  /* Before its notAfter (a day ago) it had not expired. */
  ck_assert_int_eq(ftps_keypair_expired(&kp, now - 3 * 86400, date,
    sizeof(date)), 0);
}
END_TEST

START_TEST(test_not_expired) {
  char date[64] = "untouched";
  time_t now = time(NULL);

  ck_assert_int_eq(read_fx("selfsigned.pem"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_int_eq(ftps_keypair_expired(&kp, now, date, sizeof(date)), 0);
  ck_assert_str_eq(date, "untouched");
  ck_assert_int_eq(ftps_keypair_expired(&kp, now + 31 * 86400, date,
    sizeof(date)), 1);
}
END_TEST

START_TEST(test_key_file_exposed) {
  ck_assert_int_eq(read_fx("key-0644.pem"), 0);
  ck_assert_int_eq(ftps_keypair_key_file_exposed(&kp), 1);
  ftps_keypair_free(&kp);
  ck_assert_int_eq(read_fx("combined-cert-first.pem"), 0);
  ck_assert_int_eq(ftps_keypair_key_file_exposed(&kp), 0);
}
END_TEST

START_TEST(test_free_and_reuse) {
  ck_assert_int_eq(read_fx("combined-fullchain.pem"), 0);
  ftps_keypair_free(&kp);
  ck_assert_ptr_null(kp.cert);
  ck_assert_ptr_null(kp.chain);
  ck_assert_ptr_null(kp.key);
  ck_assert_str_eq(kp.key_path, "");
  ftps_keypair_free(&kp);
  ck_assert_int_eq(read_fx("combined-key-first.pem"), 0);
  ck_assert_int_eq(ftps_keypair_check(&kp, &err), 0);
  ck_assert_str_eq(ftps_keypair_key_type(&kp), "RSA");
}
END_TEST

Suite *keypair_suite(void) {
  Suite *s = suite_create("keypair");
  TCase *tc;

  tc = tcase_create("arguments");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_null_args);
  tcase_add_test(tc, test_empty_keypair);
  tcase_add_test(tc, test_path_too_long);
  suite_add_tcase(s, tc);

  tc = tcase_create("files");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_combined_cert_first);
  tcase_add_test(tc, test_combined_key_first);
  tcase_add_test(tc, test_split_files);
  tcase_add_test(tc, test_split_key_then_cert);
  tcase_add_test(tc, test_fullchain);
  tcase_add_test(tc, test_combined_fullchain_key_first);
  tcase_add_test(tc, test_second_file_certs_go_to_chain);
  tcase_add_test(tc, test_combined_file_read_twice);
  suite_add_tcase(s, tc);

  tc = tcase_create("chain");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_chain_file);
  tcase_add_test(tc, test_chain_file_after_fullchain);
  tcase_add_test(tc, test_chain_file_duplicates_within);
  tcase_add_test(tc, test_chain_file_without_cert);
  tcase_add_test(tc, test_chain_file_errors);
  suite_add_tcase(s, tc);

  tc = tcase_create("keys");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_mismatch);
  tcase_add_test(tc, test_mismatch_same_type);
  tcase_add_test(tc, test_two_keys);
  tcase_add_test(tc, test_two_keys_two_files);
  tcase_add_test(tc, test_dup_key);
  tcase_add_test(tc, test_cert_only);
  tcase_add_test(tc, test_key_only);
  suite_add_tcase(s, tc);

  tc = tcase_create("encrypted");
  tcase_add_checked_fixture(tc, setup, teardown);
  /* Room for detached_read's 10 s deadline, even under valgrind. */
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_encrypted_no_callback);
  tcase_add_test(tc, test_encrypted_refused);
  tcase_add_test(tc, test_encrypted_pkcs8);
  tcase_add_test(tc, test_encrypted_legacy);
  tcase_add_test(tc, test_encrypted_wrong_passphrase);
  tcase_add_test(tc, test_plain_key_ignores_callback);
  suite_add_tcase(s, tc);

  tc = tcase_create("pkcs12");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_pkcs12_empty_password);
  tcase_add_test(tc, test_pkcs12_password);
  tcase_add_test(tc, test_pkcs12_no_or_wrong_password);
  tcase_add_test(tc, test_pkcs12_not_pkcs12);
  tcase_add_test(tc, test_read_pem_from_memory);
  tcase_add_test(tc, test_read_pkcs12_from_memory);
  suite_add_tcase(s, tc);

  tc = tcase_create("bad");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_garbage);
  tcase_add_test(tc, test_empty_file);
  tcase_add_test(tc, test_missing_file);
  tcase_add_test(tc, test_directory);
  tcase_add_test(tc, test_unreadable);
  tcase_add_test(tc, test_truncated_block);
  tcase_add_test(tc, test_corrupt_cert);
  tcase_add_test(tc, test_unknown_key_type);
  tcase_add_test(tc, test_only_other_blocks);
  suite_add_tcase(s, tc);

  tc = tcase_create("blocks");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_ecparams_skipped);
  tcase_add_test(tc, test_dhparams_skipped);
  tcase_add_test(tc, test_text_between_blocks);
  tcase_add_test(tc, test_old_and_trusted_names);
  suite_add_tcase(s, tc);

  tc = tcase_create("properties");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_key_types);
  tcase_add_test(tc, test_expired);
  tcase_add_test(tc, test_not_expired);
  tcase_add_test(tc, test_key_file_exposed);
  tcase_add_test(tc, test_free_and_reuse);
  suite_add_tcase(s, tc);

  return s;
}

FTPS_UNIT_MAIN(keypair_suite)

/*
 * verify.c - client certificate verification for a server SSL_CTX
 * (ftps/verify.h): TLSVerifyClient, TLSVerifyDepth, the CA certificates
 * that sign client certificates and the CRLs that revoke them.
 *
 * The CRLs live in a store of their own, which verification asks for CRLs
 * only.  Loaded into the verification store, anything else found with them
 * (a CA certificate in a CRL bundle, or the certificates of a directory
 * such as /etc/ssl/certs used as TLSCARevocationPath) would become a
 * trusted issuer of client certificates.
 */
#define _DEFAULT_SOURCE            /* timegm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "ftps/binding.h"
#include "ftps/verify.h"

/* The CRL store of a verification store goes in the store's app-data
 * slot (ex_data index 0, reserved by OpenSSL; nothing else here or in
 * libssl uses it on a context's store).  An index registered here would
 * be registered anew at every restart (this DSO is unloaded and loaded
 * again), and each stays in libcrypto's tables for good: the master grew
 * with every restart, as binding.c explains for its own slots. */
#define CRL_SLOT 0

/* The hashed directories of a context, which OpenSSL reads lazily and
 * caches in the store: kept (in the CRL store's own slot) for a renewal's
 * judgement, which looks into them through throwaway stores.  Looked up
 * through the served stores, what the master found there would stay in
 * the stores every later session inherits: a CA taken out of
 * TLSCACertificatePath trusted, an updated CRL in TLSCARevocationPath
 * unseen, until a restart. */
struct dirs {
  char *ca_path;
  char *crl_path;
};

static void dirs_free(struct dirs *d) {
  if (d != NULL) {
    OPENSSL_free(d->ca_path);
    OPENSSL_free(d->crl_path);
    OPENSSL_free(d);
  }
}

static struct dirs *dirs_new(const struct ftps_context_props *props) {
  struct dirs *d = OPENSSL_zalloc(sizeof(*d));

  if (d == NULL ||
      (props->ca_path != NULL &&
       (d->ca_path = OPENSSL_strdup(props->ca_path)) == NULL) ||
      (props->crl_path != NULL &&
       (d->crl_path = OPENSSL_strdup(props->crl_path)) == NULL)) {
    dirs_free(d);
    return NULL;
  }
  return d;
}

/* crl_file_bad - 1 if path is no file of CRLs as OpenSSL's hashed
 * directory lookup reads it (it gives up on the whole file at a bad
 * block), 0 if it is one */
static int crl_file_bad(const char *path) {
  STACK_OF(X509_INFO) *infos = NULL;
  BIO *bio = BIO_new_file(path, "r");
  int i, ncrls = 0;

  if (bio != NULL) {
    infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, "");
  }
  for (i = 0; i < sk_X509_INFO_num(infos); i++) {
    ncrls += sk_X509_INFO_value(infos, i)->crl != NULL;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  BIO_free(bio);
  ERR_clear_error();
  return ncrls == 0;
}

/* crl_dir_broken - 1 if TLSCARevocationPath holds, under the hashed name
 * of the issuer of the certificate being checked (HASH.r0, HASH.r1...), a
 * file that is no readable CRL: one being rewritten in place, unreadable
 * to the session's user, a symlink to nowhere or a loop; or if the
 * directory cannot be searched, or is not there.  OpenSSL's lookup stops
 * there and finds no CRL, which would pass for a CA without one and let a
 * revoked certificate in (full handshakes and resumed tickets alike). */
static int crl_dir_broken(X509_STORE_CTX *vctx) {
  X509_STORE *crls = X509_STORE_get_ex_data(X509_STORE_CTX_get0_store(vctx),
    CRL_SLOT);
  const struct dirs *dirs = crls != NULL ?
    X509_STORE_get_ex_data(crls, CRL_SLOT) : NULL;
  X509 *cert = X509_STORE_CTX_get_current_cert(vctx);
  SSL *ssl = X509_STORE_CTX_get_ex_data(vctx,
    SSL_get_ex_data_X509_STORE_CTX_idx());
  int data = ssl != NULL && ftps_binding_is_data(ssl);
  char path[4096];
  struct stat st;
  unsigned long h;
  int i, ok = 0, n;

  if (dirs == NULL ||
      dirs->crl_path == NULL) {
    return 0;
  }
  h = cert != NULL ?
    X509_NAME_hash_ex(X509_get_issuer_name(cert), NULL, NULL, &ok) : 0;
  if (!ok) {
    return 1;
  }
  for (i = 0; ; i++) {
    n = snprintf(path, sizeof(path), "%s/%08lx.r%d", dirs->crl_path, h, i);
    if (n < 0 ||
        (size_t) n >= sizeof(path)) {
      return 1;
    }
    if (lstat(path, &st) < 0) {
      if (errno != ENOENT &&
          errno != ENOTDIR) {
        return 1;
      }
      /* No such file: no CRL of this CA, if the directory is there.  One
       * taken away says nothing, nor does one the chroot of DefaultRoot
       * hides (AUTH after login, TLSOptions AllowPerUser): refused.  A
       * data connection (after the chroot too) presents its control
       * connection's certificate, judged already. */
      return i == 0 &&
        !data &&
        (stat(dirs->crl_path, &st) < 0 || !S_ISDIR(st.st_mode));
    }
    if (crl_file_bad(path)) {
      return 1;
    }
  }
}

/* verify_cb - OpenSSL's verdict, with one exception: a CA for which no CRL
 * was configured is not an error.  TLSCARevocationFile lists the CRLs the
 * administrator has; as with mod_tls, certificates of other CAs are not
 * refused for lack of one.  A CRL file the directory has for the CA but
 * that cannot be read is no lack of one: refused (fail closed). */
static int verify_cb(int ok, X509_STORE_CTX *store) {
  if (!ok &&
      X509_STORE_CTX_get_error(store) == X509_V_ERR_UNABLE_TO_GET_CRL &&
      !crl_dir_broken(store)) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  return ok;
}

/* lookup_crls - the CRLs issued by nm, from the CRL store alone (never a
 * certificate: the issuers come from the CA file and directory) */
static STACK_OF(X509_CRL) *lookup_crls(const X509_STORE_CTX *ctx,
    const X509_NAME *nm) {
  X509_STORE *crls;
  X509_STORE_CTX *tmp;
  STACK_OF(X509_CRL) *found = NULL;

  crls = X509_STORE_get_ex_data(X509_STORE_CTX_get0_store(ctx), CRL_SLOT);
  if (crls == NULL) {
    return NULL;
  }
  tmp = X509_STORE_CTX_new();
  if (tmp != NULL &&
      X509_STORE_CTX_init(tmp, crls, NULL, NULL) == 1) {
    found = X509_STORE_CTX_get1_crls(tmp, nm);
  }
  X509_STORE_CTX_free(tmp);
  return found;
}

/* read_crl_file - every CRL of a PEM file into crls; certificates and
 * other blocks are skipped.  A block that does not parse, or a file
 * without any CRL, is an error (as with mod_tls, which refuses to start). */
static int read_crl_file(X509_STORE *crls, const char *path,
    struct ftps_error *err) {
  BIO *bio;
  int ncrls = 0, res = 0;

  errno = 0;
  bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    int xerrno = errno;

    ftps_error_set(err, "cannot load CRLs: %s", xerrno != 0 ?
      strerror(xerrno) : "cannot open the file");
    return -1;
  }

  while (res == 0) {
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    const unsigned char *p;
    long len = 0;
    X509_CRL *crl;

    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
      if (!ftps_error_pem_end()) {
        ftps_error_set_ssl(err, "cannot load CRLs: a PEM block is "
          "malformed");
        res = -1;
      }
      break;
    }

    if (strcmp(name, PEM_STRING_X509_CRL) == 0) {
      p = data;
      crl = d2i_X509_CRL(NULL, &p, len);
      if (crl == NULL) {
        ftps_error_set_ssl(err, "a CRL does not parse");
        res = -1;
      } else if (X509_STORE_add_crl(crls, crl) != 1) {
        ftps_error_set_ssl(err, "cannot keep a CRL");
        res = -1;
      } else {
        ncrls++;
      }
      X509_CRL_free(crl);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }

  BIO_free(bio);
  if (res == 0 && ncrls == 0) {
    ftps_error_set(err, "cannot load CRLs: no CRL (no \"BEGIN X509 CRL\" "
      "block) in the file");
    res = -1;
  }
  return res;
}

/* new_crl_store - the CRLs of props (file read now, directory looked up
 * by issuer when a client certificate is verified) */
static X509_STORE *new_crl_store(const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  X509_STORE *crls = X509_STORE_new();
  X509_LOOKUP *dir;

  if (crls == NULL) {
    ftps_error_set_ssl(err, "out of memory");
    *what = FTPS_CONTEXT_ERR_CRL_FILE;
    return NULL;
  }

  if (props->crl_file != NULL &&
      read_crl_file(crls, props->crl_file, err) < 0) {
    *what = FTPS_CONTEXT_ERR_CRL_FILE;
    X509_STORE_free(crls);
    return NULL;
  }

  if (props->crl_path != NULL) {
    dir = X509_STORE_add_lookup(crls, X509_LOOKUP_hash_dir());
    if (dir == NULL ||
        X509_LOOKUP_add_dir(dir, props->crl_path, X509_FILETYPE_PEM) != 1) {
      ftps_error_set_ssl(err, "cannot use the directory");
      *what = FTPS_CONTEXT_ERR_CRL_PATH;
      X509_STORE_free(crls);
      return NULL;
    }
  }
  return crls;
}

/* load_crls - the revocation lists, in a store of their own that the
 * CTX's verification store asks for CRLs.  The file is read (and checked)
 * even when client certificates are not verified. */
static int load_crls(SSL_CTX *ctx, const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  X509_STORE *store = SSL_CTX_get_cert_store(ctx), *crls;
  struct dirs *dirs;

  if (props->crl_file == NULL && props->crl_path == NULL) {
    return 0;
  }

  crls = new_crl_store(props, what, err);
  if (crls == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (props->verify_client == FTPS_VERIFY_OFF) {
    X509_STORE_free(crls);
    return 0;
  }

  dirs = dirs_new(props);
  if (dirs == NULL ||
      X509_STORE_set_ex_data(crls, CRL_SLOT, dirs) != 1) {
    dirs_free(dirs);
    X509_STORE_free(crls);
    ftps_error_set_ssl(err, "out of memory");
    *what = FTPS_CONTEXT_ERR_CRL_FILE;
    errno = ENOMEM;
    return -1;
  }
  if (X509_STORE_set_ex_data(store, CRL_SLOT, crls) != 1) {
    dirs_free(dirs);
    X509_STORE_free(crls);
    ftps_error_set_ssl(err, "out of memory");
    *what = FTPS_CONTEXT_ERR_CRL_FILE;
    errno = ENOMEM;
    return -1;
  }
  X509_STORE_set_lookup_crls(store, lookup_crls);
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK|
    X509_V_FLAG_CRL_CHECK_ALL);
  return 0;
}

void ftps_verify_release(SSL_CTX *ctx) {
  X509_STORE *store, *crls;

  if (ctx == NULL) {
    return;
  }
  store = SSL_CTX_get_cert_store(ctx);
  crls = X509_STORE_get_ex_data(store, CRL_SLOT);
  if (crls != NULL) {
    dirs_free(X509_STORE_get_ex_data(crls, CRL_SLOT));
    X509_STORE_free(crls);
  }
  (void) X509_STORE_set_ex_data(store, CRL_SLOT, NULL);
}

int ftps_verify_session_stale(SSL *ssl, const SSL_SESSION *sess) {
  X509_STORE_CTX *vctx;
  X509_STORE *store;
  X509 *cert;
  int ok;

  cert = sess != NULL ? SSL_SESSION_get0_peer((SSL_SESSION *) sess) : NULL;
  if (ssl == NULL ||
      cert == NULL) {
    return 0;
  }

  /* As libssl verifies a client certificate, with the context's CAs and
   * CRLs as they are now.  A ticket does not keep the chain the client
   * sent: a certificate whose intermediate CA only the client has fails
   * here and gets a full handshake (where the client sends it again).
   * Told apart from a CA taken out of the store it cannot be. */
  store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
  vctx = X509_STORE_CTX_new();
  if (vctx == NULL ||
      X509_STORE_CTX_init(vctx, store, cert, NULL) != 1 ||
      X509_STORE_CTX_set_default(vctx, "ssl_client") != 1 ||
      X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(vctx),
        SSL_get0_param(ssl)) != 1) {
    X509_STORE_CTX_free(vctx);
    return 1;
  }
  X509_STORE_CTX_set_verify_cb(vctx, verify_cb);
  ok = X509_verify_cert(vctx) == 1;
  X509_STORE_CTX_free(vctx);
  return !ok;
}

/* object_digest - the SHA-256 of obj (a certificate or a CRL) into out;
 * 0, 1 for an object of another kind, or -1 */
static int object_digest(X509_OBJECT *obj, unsigned char *out) {
  X509 *x = X509_OBJECT_get0_X509(obj);
  X509_CRL *crl = X509_OBJECT_get0_X509_CRL(obj);
  unsigned int len = 0;
  int ok;

  if (x == NULL &&
      crl == NULL) {
    return 1;
  }
  ok = x != NULL ? X509_digest(x, EVP_sha256(), out, &len) :
    X509_CRL_digest(crl, EVP_sha256(), out, &len);
  return ok == 1 && len == FTPS_VERIFY_DIGEST_LEN ? 0 : -1;
}

static int cmp_digest(const void *a, const void *b) {
  return memcmp(a, b, FTPS_VERIFY_DIGEST_LEN);
}

/* add_objects - the digests of what store holds, appended to *all (*n of
 * them); 0, or -1 */
static int add_objects(X509_STORE *store, unsigned char **all, size_t *n) {
  STACK_OF(X509_OBJECT) *objs;
  int i, res;

  objs = store != NULL ? X509_STORE_get0_objects(store) : NULL;
  for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
    unsigned char *more = OPENSSL_realloc(*all,
      (*n + 1) * FTPS_VERIFY_DIGEST_LEN);

    if (more == NULL) {
      return -1;
    }
    *all = more;
    res = object_digest(sk_X509_OBJECT_value(objs, i),
      more + *n * FTPS_VERIFY_DIGEST_LEN);
    if (res < 0) {
      return -1;
    }
    if (res == 0) {
      (*n)++;
    }
  }
  return 0;
}

int ftps_verify_digest(SSL_CTX *ctx, unsigned char *out) {
  X509_STORE *store;
  unsigned char *all = NULL;
  size_t n = 0;
  int res = -1;

  if (ctx == NULL ||
      out == NULL) {
    errno = EINVAL;
    return -1;
  }

  /* In any order: the same files read again give the same digest. */
  store = SSL_CTX_get_cert_store(ctx);
  if (add_objects(store, &all, &n) == 0 &&
      add_objects(X509_STORE_get_ex_data(store, CRL_SLOT), &all, &n) == 0) {
    if (n > 0) {
      qsort(all, n, FTPS_VERIFY_DIGEST_LEN, cmp_digest);
    }
    res = EVP_Digest(all != NULL ? all : (unsigned char *) "",
      n * FTPS_VERIFY_DIGEST_LEN, out, NULL, EVP_sha256(), NULL) == 1 ?
      0 : -1;
  }
  OPENSSL_free(all);
  if (res < 0) {
    errno = ENOMEM;
  }
  return res;
}

/* set_client_ca_names - the CA names sent in the CertificateRequest, so
 * that a client holding several certificates picks the right one */
static int set_client_ca_names(SSL_CTX *ctx,
    const struct ftps_context_props *props, struct ftps_error *err) {
  STACK_OF(X509_NAME) *names;

  names = props->ca_file != NULL ? SSL_load_client_CA_file(props->ca_file) :
    sk_X509_NAME_new_null();
  if (names == NULL) {
    names = sk_X509_NAME_new_null();
  }
  if (names == NULL) {
    ftps_error_set_ssl(err, "out of memory");
    errno = ENOMEM;
    return -1;
  }

  if (props->ca_path != NULL) {
    (void) SSL_add_dir_cert_subjects_to_stack(names, props->ca_path);
  }
  ERR_clear_error();
  SSL_CTX_set_client_CA_list(ctx, names);
  return 0;
}

int ftps_verify_setup(SSL_CTX *ctx, const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  int mode, depth;

  if (props->ca_path != NULL &&
      SSL_CTX_load_verify_dir(ctx, props->ca_path) != 1) {
    ftps_error_set_ssl(err, "cannot use the CA directory %s", props->ca_path);
    *what = FTPS_CONTEXT_ERR_CA_PATH;
    errno = EINVAL;
    return -1;
  }

  /* Without a CA, every client certificate would be refused. */
  if (props->verify_client != FTPS_VERIFY_OFF &&
      props->ca_file == NULL && props->ca_path == NULL) {
    ftps_error_set(err, "client certificates cannot be verified without "
      "TLSCACertificateFile or TLSCACertificatePath");
    *what = FTPS_CONTEXT_ERR_VERIFY;
    errno = EINVAL;
    return -1;
  }

  if (load_crls(ctx, props, what, err) < 0) {
    return -1;
  }
  if (props->verify_client == FTPS_VERIFY_OFF) {
    return 0;
  }

  if (set_client_ca_names(ctx, props, err) < 0) {
    return -1;
  }

  mode = SSL_VERIFY_PEER;
  if (props->verify_client == FTPS_VERIFY_ON) {
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx, mode, verify_cb);

  /* mod_tls hands OpenSSL TLSVerifyDepth + 1, so that a depth of n admits
   * up to n + 1 CA certificates between the client's certificate and the
   * trusted root; the same here, so that a depth means the same chains. */
  depth = props->verify_depth >= 0 ? props->verify_depth :
    FTPS_VERIFY_DEPTH_DEFAULT;
  SSL_CTX_set_verify_depth(ctx, depth + 1);
  return 0;
}

/* crl_time - t as seconds since the epoch (0 when it does not convert) */
static time_t crl_time(const ASN1_TIME *t) {
  struct tm tm;

  if (t == NULL ||
      ASN1_TIME_to_tm(t, &tm) != 1) {
    return 0;
  }
  return timegm(&tm);
}

int ftps_verify_crl_marks(SSL_CTX *ctx, struct ftps_crl_mark *marks,
    int max) {
  STACK_OF(X509_OBJECT) *objs;
  X509_STORE *crls;
  int i, n = 0;

  crls = ctx != NULL ? X509_STORE_get_ex_data(SSL_CTX_get_cert_store(ctx),
    CRL_SLOT) : NULL;
  objs = crls != NULL ? X509_STORE_get0_objects(crls) : NULL;
  for (i = 0; i < sk_X509_OBJECT_num(objs) && n < max; i++) {
    X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
    unsigned char *p = marks[n].issuer;
    int len;

    if (crl == NULL) {
      continue;
    }
    len = i2d_X509_NAME(X509_CRL_get_issuer(crl), NULL);
    if (len <= 0 ||
        len > (int) sizeof(marks[n].issuer) ||
        i2d_X509_NAME(X509_CRL_get_issuer(crl), &p) != len) {
      continue;
    }
    marks[n].issuer_len = len;
    marks[n].last_update = crl_time(X509_CRL_get0_lastUpdate(crl));
    n++;
  }
  return n;
}

X509_STORE *ftps_verify_dir_store(const char *path) {
  X509_STORE *tmp;

  if (path == NULL ||
      (tmp = X509_STORE_new()) == NULL) {
    return NULL;
  }
  if (X509_STORE_load_path(tmp, path) != 1) {
    X509_STORE_free(tmp);
    return NULL;
  }
  return tmp;
}

/* newest_in - when the newest CRL of name in the list was issued; -1 when
 * it holds none */
static time_t newest_in(STACK_OF(X509_CRL) *list, const X509_NAME *name) {
  time_t newest = -1;
  int i;

  for (i = 0; i < sk_X509_CRL_num(list); i++) {
    X509_CRL *crl = sk_X509_CRL_value(list, i);
    time_t t = crl_time(X509_CRL_get0_lastUpdate(crl));

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), name) == 0 &&
        t > newest) {
      newest = t;
    }
  }
  return newest;
}

/* crl_newest - when the newest CRL of name that crls hold in memory (the
 * file's), or that the CRL directory has now, was issued; -1 when there is
 * none */
static time_t crl_newest(X509_STORE *crls, X509_NAME *name,
    const struct dirs *dirs) {
  STACK_OF(X509_OBJECT) *objs = crls != NULL ?
    X509_STORE_get0_objects(crls) : NULL;
  STACK_OF(X509_CRL) *found = sk_X509_CRL_new_null();
  X509_STORE *tmp = ftps_verify_dir_store(dirs != NULL ? dirs->crl_path : NULL);
  X509_STORE_CTX *sctx = NULL;
  time_t newest, other = -1;
  int i;

  for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
    X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));

    if (crl != NULL &&
        found != NULL) {
      (void) sk_X509_CRL_push(found, crl);
    }
  }
  newest = newest_in(found, name);
  sk_X509_CRL_free(found);

  if (tmp != NULL &&
      (sctx = X509_STORE_CTX_new()) != NULL &&
      X509_STORE_CTX_init(sctx, tmp, NULL, NULL) == 1) {
    found = X509_STORE_CTX_get1_crls(sctx, name);
    other = newest_in(found, name);
    sk_X509_CRL_pop_free(found, X509_CRL_free);
  }
  X509_STORE_CTX_free(sctx);
  X509_STORE_free(tmp);
  return other > newest ? other : newest;
}

/* trusted - does store hold in memory (the file's), or the CA directory
 * have now, a CA named name? */
static int trusted(X509_STORE *store, X509_NAME *name,
    const struct dirs *dirs) {
  X509_STORE *tmp;
  X509_STORE_CTX *sctx;
  X509_OBJECT *obj = NULL;

  if (X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store),
      X509_LU_X509, name) != NULL) {
    return 1;
  }
  tmp = ftps_verify_dir_store(dirs != NULL ? dirs->ca_path : NULL);
  if (tmp == NULL) {
    return 0;
  }
  sctx = X509_STORE_CTX_new();
  if (sctx != NULL &&
      X509_STORE_CTX_init(sctx, tmp, NULL, NULL) == 1) {
    obj = X509_STORE_CTX_get_obj_by_subject(sctx, X509_LU_X509, name);
  }
  X509_OBJECT_free(obj);
  X509_STORE_CTX_free(sctx);
  X509_STORE_free(tmp);
  ERR_clear_error();
  return obj != NULL;
}

const char *ftps_verify_crl_lost(SSL_CTX *ctx,
    const struct ftps_crl_mark *marks, int n, int *older, char *buf,
    size_t bufsz) {
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  X509_STORE *crls = X509_STORE_get_ex_data(store, CRL_SLOT);
  const struct dirs *dirs;
  int i, lost = 0;

  *older = 0;
  if (SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_NONE) {
    return NULL;
  }
  dirs = crls != NULL ? X509_STORE_get_ex_data(crls, CRL_SLOT) : NULL;
  for (i = 0; i < n && !lost; i++) {
    const unsigned char *p = marks[i].issuer;
    X509_NAME *name = d2i_X509_NAME(NULL, &p, marks[i].issuer_len);
    time_t newest;

    if (name != NULL &&
        trusted(store, name, dirs)) {
      newest = crl_newest(crls, name, dirs);
      lost = newest < marks[i].last_update;
      if (lost) {
        *older = newest >= 0;
        (void) X509_NAME_oneline(name, buf, (int) bufsz);
      }
    }
    X509_NAME_free(name);
  }
  ERR_clear_error();
  return lost ? buf : NULL;
}

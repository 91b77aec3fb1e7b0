/*
 * verify.c - client certificate verification for a server SSL_CTX
 * (ftps/verify.h): TLSVerifyClient, TLSVerifyDepth, the CA certificates
 * that sign client certificates and the CRLs that revoke them.
 */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "ftps/verify.h"

/* verify_cb - OpenSSL's verdict, with one exception: a CA for which no CRL
 * was configured is not an error.  TLSCARevocationFile lists the CRLs the
 * administrator has; as with mod_tls, certificates of other CAs are not
 * refused for lack of one. */
static int verify_cb(int ok, X509_STORE_CTX *store) {
  if (!ok &&
      X509_STORE_CTX_get_error(store) == X509_V_ERR_UNABLE_TO_GET_CRL) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  return ok;
}

/* load_crls - the revocation lists, into the CTX's verification store */
static int load_crls(SSL_CTX *ctx, const struct ftps_context_props *props,
    int *what, struct ftps_error *err) {
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);

  if (props->crl_file != NULL &&
      X509_STORE_load_file(store, props->crl_file) != 1) {
    ftps_error_set_ssl(err, "cannot load CRLs from %s", props->crl_file);
    *what = FTPS_CONTEXT_ERR_CRL_FILE;
    errno = EINVAL;
    return -1;
  }

  if (props->crl_path != NULL &&
      X509_STORE_load_path(store, props->crl_path) != 1) {
    ftps_error_set_ssl(err, "cannot use the CRL directory %s",
      props->crl_path);
    *what = FTPS_CONTEXT_ERR_CRL_PATH;
    errno = EINVAL;
    return -1;
  }

  if (props->crl_file != NULL || props->crl_path != NULL) {
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK|
      X509_V_FLAG_CRL_CHECK_ALL);
  }
  return 0;
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

  if (props->verify_client == FTPS_VERIFY_OFF) {
    return 0;
  }

  /* Without a CA, every client certificate would be refused. */
  if (props->ca_file == NULL && props->ca_path == NULL) {
    ftps_error_set(err, "client certificates cannot be verified without "
      "TLSCACertificateFile or TLSCACertificatePath");
    *what = FTPS_CONTEXT_ERR_VERIFY;
    errno = EINVAL;
    return -1;
  }

  if (load_crls(ctx, props, what, err) < 0 ||
      set_client_ca_names(ctx, props, err) < 0) {
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

/*
 * certvars.c - the TLS_* environment variables of a connection
 * (ftps/certvars.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ftps/certvars.h"

/* The name entries mod_tls exports, with the suffix it gives them. */
static const struct {
  int nid;
  const char *suffix;
} dn_parts[] = {
  { NID_countryName,            "C" },
  { NID_commonName,             "CN" },
  { NID_description,            "D" },
  { NID_givenName,              "G" },
  { NID_initials,               "I" },
  { NID_localityName,           "L" },
  { NID_organizationName,       "O" },
  { NID_organizationalUnitName, "OU" },
  { NID_stateOrProvinceName,    "ST" },
  { NID_surname,                "S" },
  { NID_title,                  "T" },
  { NID_x500UniqueIdentifier,   "UID" },
  { NID_pkcs9_emailAddress,     "Email" },
};

/* emit - fn(prefix + suffix, value); -1 (ENAMETOOLONG) for a long name */
static int emit(const char *prefix, const char *suffix, const char *value,
    ftps_certvars_fn fn, void *arg) {
  char name[128];
  int n;

  n = snprintf(name, sizeof(name), "%s%s", prefix, suffix);
  if (n < 0 || (size_t) n >= sizeof(name)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  fn(name, value, arg);
  return 0;
}

/* emit_bio - the text written to bio (a memory BIO), then free it */
static int emit_bio(BIO *bio, const char *prefix, const char *suffix,
    ftps_certvars_fn fn, void *arg) {
  char *text = NULL;
  BUF_MEM *mem = NULL;
  int res = -1;

  if (bio != NULL &&
      BIO_get_mem_ptr(bio, &mem) == 1 &&
      mem != NULL &&
      (text = strndup(mem->data, mem->length)) != NULL) {
    res = emit(prefix, suffix, text, fn, arg);
    free(text);

  } else {
    errno = ENOMEM;
  }
  BIO_free(bio);
  ERR_clear_error();
  return res;
}

/* emit_name - the one-line form of a name (e.g. "CN = alice, O = x"),
 * then each entry mod_tls names */
static int emit_name(X509_NAME *name, const char *prefix, const char *which,
    ftps_certvars_fn fn, void *arg) {
  char sub[128];
  BIO *bio = BIO_new(BIO_s_mem());
  int i;

  if (bio == NULL ||
      X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE) < 0) {
    BIO_free(bio);
    errno = ENOMEM;
    return -1;
  }
  if (emit_bio(bio, prefix, which, fn, arg) < 0) {
    return -1;
  }

  for (i = 0; i < X509_NAME_entry_count(name); i++) {
    X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, i);
    const ASN1_STRING *data = X509_NAME_ENTRY_get_data(entry);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    size_t j, len = (size_t) ASN1_STRING_length(data);
    char *value;

    for (j = 0; j < sizeof(dn_parts) / sizeof(dn_parts[0]); j++) {
      if (dn_parts[j].nid != nid ||
          memchr(ASN1_STRING_get0_data(data), '\0', len) != NULL) {
        continue;
      }
      value = strndup((const char *) ASN1_STRING_get0_data(data), len);
      if (value == NULL) {
        errno = ENOMEM;
        return -1;
      }
      (void) snprintf(sub, sizeof(sub), "%s_%s", which, dn_parts[j].suffix);
      if (emit(prefix, sub, value, fn, arg) < 0) {
        free(value);
        return -1;
      }
      free(value);
    }
  }
  return 0;
}

/* emit_serial - M_SERIAL in decimal (mod_tls gives it only for serials
 * under 4 bytes; here for every serial, in the same form) */
static int emit_serial(X509 *cert, const char *prefix, ftps_certvars_fn fn,
    void *arg) {
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
  char *dec = bn != NULL ? BN_bn2dec(bn) : NULL;
  int res = -1;

  if (dec != NULL) {
    res = emit(prefix, "M_SERIAL", dec, fn, arg);
  } else {
    errno = ENOMEM;
  }
  OPENSSL_free(dec);
  BN_free(bn);
  return res;
}

/* emit_std - the StdEnvVars fields of cert */
static int emit_std(X509 *cert, const char *prefix, ftps_certvars_fn fn,
    void *arg) {
  char version[24];
  const X509_ALGOR *sig = NULL;
  X509_ALGOR *key = NULL;
  const ASN1_OBJECT *obj = NULL;
  BIO *bio;

  (void) snprintf(version, sizeof(version), "%ld", X509_get_version(cert) + 1);
  if (emit(prefix, "M_VERSION", version, fn, arg) < 0 ||
      emit_serial(cert, prefix, fn, arg) < 0 ||
      emit_name(X509_get_subject_name(cert), prefix, "S_DN", fn, arg) < 0 ||
      emit_name(X509_get_issuer_name(cert), prefix, "I_DN", fn, arg) < 0) {
    return -1;
  }

  bio = BIO_new(BIO_s_mem());
  if (bio != NULL) {
    (void) ASN1_TIME_print(bio, X509_get0_notBefore(cert));
  }
  if (emit_bio(bio, prefix, "V_START", fn, arg) < 0) {
    return -1;
  }
  bio = BIO_new(BIO_s_mem());
  if (bio != NULL) {
    (void) ASN1_TIME_print(bio, X509_get0_notAfter(cert));
  }
  if (emit_bio(bio, prefix, "V_END", fn, arg) < 0) {
    return -1;
  }

  X509_get0_signature(NULL, &sig, cert);
  X509_ALGOR_get0(&obj, NULL, NULL, sig);
  bio = BIO_new(BIO_s_mem());
  if (bio != NULL) {
    (void) i2a_ASN1_OBJECT(bio, obj);
  }
  if (emit_bio(bio, prefix, "A_SIG", fn, arg) < 0) {
    return -1;
  }

  (void) X509_PUBKEY_get0_param(NULL, NULL, NULL, &key,
    X509_get_X509_PUBKEY(cert));
  X509_ALGOR_get0(&obj, NULL, NULL, key);
  bio = BIO_new(BIO_s_mem());
  if (bio != NULL) {
    (void) i2a_ASN1_OBJECT(bio, obj);
  }
  return emit_bio(bio, prefix, "A_KEY", fn, arg);
}

/* emit_pem - cert in PEM under prefix + suffix */
static int emit_pem(X509 *cert, const char *prefix, const char *suffix,
    ftps_certvars_fn fn, void *arg) {
  BIO *bio = BIO_new(BIO_s_mem());

  if (bio != NULL &&
      PEM_write_bio_X509(bio, cert) != 1) {
    BIO_free(bio);
    bio = NULL;
  }
  return emit_bio(bio, prefix, suffix, fn, arg);
}

int ftps_certvars_cert(X509 *cert, const char *prefix, unsigned int flags,
    ftps_certvars_fn fn, void *arg) {
  if (cert == NULL || prefix == NULL || fn == NULL) {
    errno = EINVAL;
    return -1;
  }

  if ((flags & FTPS_CERTVARS_STD) &&
      emit_std(cert, prefix, fn, arg) < 0) {
    return -1;
  }
  if (flags & (FTPS_CERTVARS_STD|FTPS_CERTVARS_EXPORT)) {
    return emit_pem(cert, prefix, "CERT", fn, arg);
  }
  return 0;
}

/* emit_session - the session ID and the cipher's key sizes */
static int emit_session(SSL *ssl, ftps_certvars_fn fn, void *arg) {
  const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
  SSL_SESSION *sess = SSL_get_session(ssl);
  char buf[2 * SSL_MAX_SSL_SESSION_ID_LENGTH + 1];

  if (sess != NULL) {
    unsigned int i, len = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &len);

    for (i = 0; i < len && i < SSL_MAX_SSL_SESSION_ID_LENGTH; i++) {
      (void) snprintf(buf + 2 * i, 3, "%02X", id[i]);
    }
    buf[2 * i] = '\0';
    if (emit("TLS_", "SESSION_ID", buf, fn, arg) < 0) {
      return -1;
    }
  }

  if (cipher != NULL) {
    int possible = 0, used = SSL_CIPHER_get_bits(cipher, &possible);

    if (used < 56 &&
        emit("TLS_", "CIPHER_EXPORT", "1", fn, arg) < 0) {
      return -1;
    }
    (void) snprintf(buf, sizeof(buf), "%d", possible);
    if (emit("TLS_", "CIPHER_KEYSIZE_POSSIBLE", buf, fn, arg) < 0) {
      return -1;
    }
    (void) snprintf(buf, sizeof(buf), "%d", used);
    if (emit("TLS_", "CIPHER_KEYSIZE_USED", buf, fn, arg) < 0) {
      return -1;
    }
  }
  return 0;
}

int ftps_certvars_conn(SSL *ssl, unsigned int flags, ftps_certvars_fn fn,
    void *arg) {
  STACK_OF(X509) *chain;
  X509 *peer;
  int i, res = 0;

  if (ssl == NULL || fn == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (!(flags & (FTPS_CERTVARS_STD|FTPS_CERTVARS_EXPORT))) {
    return 0;
  }

  if ((flags & FTPS_CERTVARS_STD) &&
      emit_session(ssl, fn, arg) < 0) {
    return -1;
  }

  /* On the server side, the chain the client sent after its own
   * certificate. */
  chain = SSL_get_peer_cert_chain(ssl);
  for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
    char suffix[32];

    (void) snprintf(suffix, sizeof(suffix), "CERT_CHAIN%d", i + 1);
    if (emit_pem(sk_X509_value(chain, i), "TLS_CLIENT_", suffix, fn,
        arg) < 0) {
      return -1;
    }
  }

  if (SSL_get_certificate(ssl) != NULL &&
      ftps_certvars_cert(SSL_get_certificate(ssl), "TLS_SERVER_", flags, fn,
        arg) < 0) {
    return -1;
  }

  peer = SSL_get1_peer_certificate(ssl);
  if (peer != NULL) {
    res = ftps_certvars_cert(peer, "TLS_CLIENT_", flags, fn, arg);
    X509_free(peer);
  }
  return res;
}

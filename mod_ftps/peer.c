/*
 * peer.c - checks on a client's certificate (ftps/peer.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ftps/peer.h"

/* string_is - an ASN.1 string equal to want, without embedded NULs */
static int string_is(const ASN1_STRING *s, const char *want, int nocase) {
  const unsigned char *data;
  int len;

  if (s == NULL || want == NULL) {
    return 0;
  }
  data = ASN1_STRING_get0_data(s);
  len = ASN1_STRING_length(s);
  if (data == NULL || len < 0 ||
      memchr(data, '\0', (size_t) len) != NULL ||
      (size_t) len != strlen(want)) {
    return 0;
  }
  return nocase ? strncasecmp((const char *) data, want, len) == 0 :
    memcmp(data, want, len) == 0;
}

/* subject_has - a subject DN entry of type obj equal to want */
static int subject_has(X509 *cert, const ASN1_OBJECT *obj, const char *want,
    int nocase) {
  X509_NAME *name = X509_get_subject_name(cert);
  int pos = -1;

  while ((pos = X509_NAME_get_index_by_OBJ(name, obj, pos)) >= 0) {
    X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, pos);

    if (string_is(X509_NAME_ENTRY_get_data(entry), want, nocase)) {
      return 1;
    }
  }
  return 0;
}

/* subject_cn_is - a subject CN equal to want */
static int subject_cn_is(X509 *cert, const char *want, int nocase) {
  ASN1_OBJECT *cn = OBJ_nid2obj(NID_commonName);

  return cn != NULL && subject_has(cert, cn, want, nocase);
}

/* san_is - a subjectAltName of type (GEN_DNS, GEN_EMAIL) equal to want.
 * Exact names only, as mod_tls compares them: a client certificate is not
 * a server's, and a wildcard such as "*.0.0.1" or "*.example.com" would
 * let one certificate stand for every host that matches it. */
static int san_is(X509 *cert, int type, const char *want, int nocase) {
  GENERAL_NAMES *names;
  int i, found = 0;

  names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && !found;
      i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

    found = gn->type == type && string_is(gn->d.ia5, want, nocase);
  }
  GENERAL_NAMES_free(names);
  return found;
}

int ftps_peer_check_names(X509 *cert, int flags, const char *host,
    const char *ip, struct ftps_error *err) {
  if (cert == NULL) {
    ftps_error_set(err, "the client sent no certificate");
    errno = EACCES;
    return -1;
  }
  host = host != NULL ? host : ip;

  if ((flags & FTPS_PEER_NEED_CN) &&
      (host == NULL || !subject_cn_is(cert, host, 1))) {
    ftps_error_set(err, "the client certificate's CommonName is not '%s' "
      "(TLSOptions CommonNameRequired)", host ? host : "");
    errno = EACCES;
    return -1;
  }

  if ((flags & FTPS_PEER_NEED_DNS) &&
      (host == NULL || !san_is(cert, GEN_DNS, host, 1))) {
    ftps_error_set(err, "the client certificate has no DNS subjectAltName "
      "'%s' (TLSOptions dNSNameRequired)", host ? host : "");
    errno = EACCES;
    return -1;
  }

  if ((flags & FTPS_PEER_NEED_IP) &&
      (ip == NULL || X509_check_ip_asc(cert, ip, 0) != 1)) {
    ftps_error_set(err, "the client certificate has no IP subjectAltName "
      "%s (TLSOptions iPAddressRequired)", ip ? ip : "");
    errno = EACCES;
    return -1;
  }

  return 0;
}

/* extension_is - an extension of type obj whose value is want: either the
 * raw octets (as mod_tls compares them), or a DER string that holds want */
static int extension_is(X509 *cert, const ASN1_OBJECT *obj, const char *want) {
  int pos = -1;

  while ((pos = X509_get_ext_by_OBJ(cert, obj, pos)) >= 0) {
    X509_EXTENSION *ext = X509_get_ext(cert, pos);
    ASN1_OCTET_STRING *raw = X509_EXTENSION_get_data(ext);
    const unsigned char *p = ASN1_STRING_get0_data(raw);
    ASN1_STRING *decoded;
    int match;

    if (string_is(raw, want, 0)) {
      return 1;
    }

    decoded = d2i_DISPLAYTEXT(NULL, &p, ASN1_STRING_length(raw));
    if (decoded == NULL) {
      ERR_clear_error();
      continue;
    }
    match = string_is(decoded, want, 0);
    ASN1_STRING_free(decoded);
    if (match) {
      return 1;
    }
  }
  return 0;
}

int ftps_peer_field_valid(const char *field) {
  ASN1_OBJECT *obj;

  if (field == NULL) {
    return 0;
  }
  if (strcmp(field, "CommonName") == 0 ||
      strcmp(field, "EmailSubjAltName") == 0) {
    return 1;
  }

  obj = OBJ_txt2obj(field, 1);
  ERR_clear_error();
  ASN1_OBJECT_free(obj);
  return obj != NULL;
}

int ftps_peer_user_matches(X509 *cert, const char *field, const char *user) {
  ASN1_OBJECT *obj;
  int match;

  if (!ftps_peer_field_valid(field)) {
    errno = EINVAL;
    return -1;
  }
  if (cert == NULL || user == NULL || *user == '\0') {
    return 0;
  }

  if (strcmp(field, "CommonName") == 0) {
    return subject_cn_is(cert, user, 0);
  }
  if (strcmp(field, "EmailSubjAltName") == 0) {
    return san_is(cert, GEN_EMAIL, user, 0);
  }

  obj = OBJ_txt2obj(field, 1);
  match = subject_has(cert, obj, user, 0) || extension_is(cert, obj, user);
  ASN1_OBJECT_free(obj);
  return match;
}

int ftps_peer_listed_in(X509 *cert, int fd, struct ftps_error *err) {
  X509 *listed;
  BIO *bio;
  int found = 0;

  if (cert == NULL || fd < 0) {
    errno = EINVAL;
    return -1;
  }

  ERR_clear_error();
  bio = BIO_new_fd(fd, BIO_NOCLOSE);
  if (bio == NULL) {
    ftps_error_set_ssl(err, "out of memory");
    errno = ENOMEM;
    return -1;
  }

  while (!found &&
         (listed = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    /* The whole certificate, not only its subject: a name can be
     * reissued to someone else. */
    found = X509_cmp(listed, cert) == 0;
    X509_free(listed);
  }
  ERR_clear_error();
  BIO_free(bio);
  return found;
}

int ftps_peer_same(X509 *a, X509 *b) {
  if (a == NULL || b == NULL) {
    return a == b;
  }
  return X509_cmp(a, b) == 0;
}

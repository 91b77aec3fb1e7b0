/*
 * check_certvars.c - unit tests for mod_ftps/certvars.c (ftps/certvars.h):
 * the TLS_* variables of a certificate, named as mod_tls names them; and
 * for the DNS name check of mod_ftps/peer.c (dNSNameRequired: exact names,
 * no wildcards).  The certificates are made here.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ftps/certvars.h"
#include "ftps/peer.h"
#include "unit.h"

#define MAX_VARS 64

struct vars {
  int n;
  char name[MAX_VARS][64];
  char value[MAX_VARS][2048];
};

static void collect(const char *name, const char *value, void *arg) {
  struct vars *v = arg;

  ck_assert_int_lt(v->n, MAX_VARS);
  snprintf(v->name[v->n], sizeof(v->name[0]), "%s", name);
  snprintf(v->value[v->n], sizeof(v->value[0]), "%s", value);
  v->n++;
}

/* get - the last value given for name (as setenv would keep), or NULL */
static const char *get(const struct vars *v, const char *name) {
  int i;

  for (i = v->n - 1; i >= 0; i--) {
    if (strcmp(v->name[i], name) == 0) {
      return v->value[i];
    }
  }
  return NULL;
}

static void add_entry(X509_NAME *name, const char *field, const char *value,
    int len) {
  ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
    (const unsigned char *) value, len, -1, 0), 1);
}

/* make_cert - a self-signed EC certificate: serial, subject entries, and
 * a subjectAltName (NULL: none) */
static X509 *make_cert(long serial, const char *san, int with_nul_cn) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();
  X509_NAME *name = X509_NAME_new();
  X509V3_CTX v3;

  ck_assert_ptr_nonnull(key);
  ck_assert_int_eq(X509_set_version(cert, 2), 1);
  ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(cert), serial), 1);
  add_entry(name, "C", "DE", -1);
  add_entry(name, "O", "Example Org", -1);
  add_entry(name, "OU", "Unit", -1);
  add_entry(name, "CN", "alice", -1);
  add_entry(name, "emailAddress", "alice@example.com", -1);
  add_entry(name, "title", "Dr", -1);
  if (with_nul_cn) {
    add_entry(name, "CN", "bob\0evil", 8);
  }
  ck_assert_int_eq(X509_set_subject_name(cert, name), 1);
  ck_assert_int_eq(X509_set_issuer_name(cert, name), 1);
  X509_NAME_free(name);
  ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
  ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), 86400));
  ck_assert_int_eq(X509_set_pubkey(cert, key), 1);
  if (san != NULL) {
    X509_EXTENSION *ext;

    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
  }
  ck_assert_int_gt(X509_sign(cert, key, EVP_sha256()), 0);
  EVP_PKEY_free(key);
  return cert;
}

START_TEST(test_std_fields) {
  X509 *cert = make_cert(4242, NULL, 0);
  struct vars v;

  memset(&v, 0, sizeof(v));
  ck_assert_int_eq(ftps_certvars_cert(cert, "TLS_CLIENT_", FTPS_CERTVARS_STD,
    collect, &v), 0);
  ck_assert_str_eq(get(&v, "TLS_CLIENT_M_VERSION"), "3");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_M_SERIAL"), "4242");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN"),
    "C = DE, O = Example Org, OU = Unit, CN = alice, "
    "emailAddress = alice@example.com, title = Dr");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_C"), "DE");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_O"), "Example Org");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_OU"), "Unit");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_CN"), "alice");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_Email"), "alice@example.com");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_T"), "Dr");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_I_DN_CN"), "alice");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_A_SIG"), "ecdsa-with-SHA256");
  ck_assert_str_eq(get(&v, "TLS_CLIENT_A_KEY"), "id-ecPublicKey");
  ck_assert_ptr_nonnull(strstr(get(&v, "TLS_CLIENT_V_START"), " GMT"));
  ck_assert_ptr_nonnull(strstr(get(&v, "TLS_CLIENT_V_END"), " GMT"));
  ck_assert_int_eq(strncmp(get(&v, "TLS_CLIENT_CERT"),
    "-----BEGIN CERTIFICATE-----", 27), 0);
  ck_assert_ptr_null(strstr(get(&v, "TLS_CLIENT_CERT"), "PRIVATE KEY"));
  ck_assert_ptr_null(get(&v, "TLS_CLIENT_S_DN_L"));
  X509_free(cert);
}
END_TEST

START_TEST(test_long_serial_in_decimal) {
  X509 *cert = make_cert(1, NULL, 0);
  ASN1_INTEGER *big = s2i_ASN1_INTEGER(NULL, "0x0DBE4269FBA22C3C");
  struct vars v;

  ck_assert_ptr_nonnull(big);
  ck_assert_int_eq(X509_set_serialNumber(cert, big), 1);
  ASN1_INTEGER_free(big);
  memset(&v, 0, sizeof(v));
  ck_assert_int_eq(ftps_certvars_cert(cert, "TLS_SERVER_", FTPS_CERTVARS_STD,
    collect, &v), 0);
  ck_assert_str_eq(get(&v, "TLS_SERVER_M_SERIAL"), "990301991028796476");
  X509_free(cert);
}
END_TEST

START_TEST(test_export_only_pem) {
  X509 *cert = make_cert(7, NULL, 0);
  struct vars v;

  memset(&v, 0, sizeof(v));
  ck_assert_int_eq(ftps_certvars_cert(cert, "TLS_CLIENT_",
    FTPS_CERTVARS_EXPORT, collect, &v), 0);
  ck_assert_int_eq(v.n, 1);
  ck_assert_str_eq(v.name[0], "TLS_CLIENT_CERT");

  memset(&v, 0, sizeof(v));
  ck_assert_int_eq(ftps_certvars_cert(cert, "TLS_CLIENT_", 0, collect, &v),
    0);
  ck_assert_int_eq(v.n, 0);
  X509_free(cert);
}
END_TEST

START_TEST(test_embedded_nul_entry_left_out) {
  X509 *cert = make_cert(7, NULL, 1);
  struct vars v;

  memset(&v, 0, sizeof(v));
  ck_assert_int_eq(ftps_certvars_cert(cert, "TLS_CLIENT_", FTPS_CERTVARS_STD,
    collect, &v), 0);
  /* the first CN stays; the one with a NUL is not given */
  ck_assert_str_eq(get(&v, "TLS_CLIENT_S_DN_CN"), "alice");
  X509_free(cert);
}
END_TEST

START_TEST(test_bad_arguments) {
  struct vars v;

  ck_assert_int_eq(ftps_certvars_cert(NULL, "TLS_CLIENT_", FTPS_CERTVARS_STD,
    collect, &v), -1);
  ck_assert_int_eq(ftps_certvars_conn(NULL, FTPS_CERTVARS_STD, collect, &v),
    -1);
}
END_TEST

/* dNSNameRequired */
static int dns_ok(const char *san, const char *host) {
  X509 *cert = make_cert(9, san, 0);
  struct ftps_error err;
  int res;

  ftps_error_clear(&err);
  res = ftps_peer_check_names(cert, FTPS_PEER_NEED_DNS, host, "192.0.2.1",
    &err);
  X509_free(cert);
  return res == 0;
}

START_TEST(test_dns_exact_names_only) {
  ck_assert(dns_ok("DNS:host.example.com", "host.example.com"));
  ck_assert(dns_ok("DNS:HOST.Example.COM", "host.example.com"));
  ck_assert(dns_ok("DNS:other.example, DNS:host.example.com",
    "host.example.com"));
  ck_assert(!dns_ok("DNS:*.example.com", "host.example.com"));
  ck_assert(!dns_ok("DNS:*.0.0.1", "127.0.0.1"));
  ck_assert(!dns_ok("DNS:h*.example.com", "host.example.com"));
  ck_assert(!dns_ok("DNS:host.example.com.evil", "host.example.com"));
  ck_assert(!dns_ok("DNS:example.com", "host.example.com"));
  ck_assert(!dns_ok("email:host.example.com", "host.example.com"));
  ck_assert(!dns_ok(NULL, "alice"));
}
END_TEST

static Suite *certvars_suite(void) {
  Suite *s = suite_create("certvars");
  TCase *tc = tcase_create("certvars");

  tcase_add_test(tc, test_std_fields);
  tcase_add_test(tc, test_long_serial_in_decimal);
  tcase_add_test(tc, test_export_only_pem);
  tcase_add_test(tc, test_embedded_nul_entry_left_out);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_dns_exact_names_only);
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(certvars_suite)

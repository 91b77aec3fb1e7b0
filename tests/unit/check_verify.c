/*
 * check_verify.c - unit tests for mod_ftps/verify.c (ftps/verify.h): the
 * digest of what a context verifies client certificates with, which the
 * ticket scope carries (a renewed CA or CRL file sends old tickets to a
 * full handshake; the same files read again do not).
 */
#include <string.h>

#include <openssl/ssl.h>

#include "ftps/verify.h"
#include "unit.h"

/* ctx_with - a server context whose CA store holds the fixture files, in
 * this order */
static SSL_CTX *ctx_with(const char *a, const char *b) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

  ck_assert_ptr_nonnull(ctx);
  if (a != NULL) {
    ck_assert_int_eq(SSL_CTX_load_verify_file(ctx, unit_fixture(a)), 1);
  }
  if (b != NULL) {
    ck_assert_int_eq(SSL_CTX_load_verify_file(ctx, unit_fixture(b)), 1);
  }
  return ctx;
}

START_TEST(test_digest_same_material_any_order) {
  unsigned char d1[FTPS_VERIFY_DIGEST_LEN], d2[FTPS_VERIFY_DIGEST_LEN];
  SSL_CTX *c1 = ctx_with("ca.pem", "inter.pem");
  SSL_CTX *c2 = ctx_with("inter.pem", "ca.pem");

  ck_assert_int_eq(ftps_verify_digest(c1, d1), 0);
  ck_assert_int_eq(ftps_verify_digest(c2, d2), 0);
  ck_assert_msg(memcmp(d1, d2, sizeof(d1)) == 0,
    "the same CA certificates in another order changed the digest");
  SSL_CTX_free(c1);
  SSL_CTX_free(c2);
}
END_TEST

START_TEST(test_digest_changes_with_material) {
  unsigned char d1[FTPS_VERIFY_DIGEST_LEN], d2[FTPS_VERIFY_DIGEST_LEN];
  unsigned char d3[FTPS_VERIFY_DIGEST_LEN];
  SSL_CTX *c1 = ctx_with("ca.pem", NULL);
  SSL_CTX *c2 = ctx_with("ca.pem", "inter.pem");
  SSL_CTX *c3 = ctx_with(NULL, NULL);

  ck_assert_int_eq(ftps_verify_digest(c1, d1), 0);
  ck_assert_int_eq(ftps_verify_digest(c2, d2), 0);
  ck_assert_int_eq(ftps_verify_digest(c3, d3), 0);
  ck_assert_msg(memcmp(d1, d2, sizeof(d1)) != 0,
    "a CA certificate added left the digest as it was");
  ck_assert_msg(memcmp(d1, d3, sizeof(d1)) != 0,
    "no CA certificate at all gave the digest of one");
  SSL_CTX_free(c1);
  SSL_CTX_free(c2);
  SSL_CTX_free(c3);
}
END_TEST

START_TEST(test_digest_refuses_null) {
  unsigned char d[FTPS_VERIFY_DIGEST_LEN];
  SSL_CTX *c = ctx_with(NULL, NULL);

  ck_assert_int_eq(ftps_verify_digest(NULL, d), -1);
  ck_assert_int_eq(ftps_verify_digest(c, NULL), -1);
  SSL_CTX_free(c);
}
END_TEST

static Suite *verify_suite(void) {
  Suite *s = suite_create("verify");
  TCase *tc = tcase_create("digest");

  tcase_add_test(tc, test_digest_same_material_any_order);
  tcase_add_test(tc, test_digest_changes_with_material);
  tcase_add_test(tc, test_digest_refuses_null);
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(verify_suite)

/*
 * check_ocsp.c - unit tests for mod_ftps/ocsp.c (ftps/ocsp.h): requests,
 * and the checks a response must pass before it is stapled.  The CA, the
 * certificates and the responses are made at test time by "openssl ocsp"
 * (tests/fixtures/mkocsp.sh), run once before the tests.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include "ftps/ocsp.h"
#include "unit.h"

static char dir[4096];

/* path - a file of the OCSP fixture directory */
static const char *path(const char *name) {
  static char buf[4096 + 64];

  snprintf(buf, sizeof(buf), "%s/%s", dir, name);
  return buf;
}

static X509 *cert(const char *name) {
  FILE *fp = fopen(path(name), "r");
  X509 *x;

  ck_assert_msg(fp != NULL, "cannot open %s", path(name));
  x = PEM_read_X509(fp, NULL, NULL, NULL);
  fclose(fp);
  ck_assert_ptr_nonnull(x);
  return x;
}

struct der {
  unsigned char *p;
  size_t len;
};

static struct der der(const char *name) {
  struct der d;
  struct ftps_error err;

  ck_assert_msg(ftps_ocsp_read_file(path(name), &d.p, &d.len, &err) == 0,
    "%s: %s", name, err.msg);
  return d;
}

/* check - ftps_ocsp_check of response for certificate, with request (NULL:
 * none) at now (0: the present); errno is kept */
static int check(const char *response, const char *certificate,
    const char *request, unsigned int flags, time_t now,
    struct ftps_ocsp_status *st) {
  struct der r = der(response), q = { NULL, 0 };
  X509 *c = cert(certificate), *ca = cert("ca.pem");
  struct ftps_error err;
  int res, xerrno;

  if (request != NULL) {
    q = der(request);
  }
  res = ftps_ocsp_check(r.p, r.len, c, ca, NULL, q.p, q.len, flags,
    now != 0 ? now : time(NULL), st, &err);
  xerrno = errno;
  if (res < 0) {
    ck_assert_msg(err.msg[0] != '\0', "a failure says why");
  }
  free(r.p);
  free(q.p);
  X509_free(c);
  X509_free(ca);
  errno = xerrno;
  return res;
}

START_TEST(test_good) {
  struct ftps_ocsp_status st;
  time_t now = time(NULL);

  ck_assert_int_eq(check("good.der", "leaf.pem", "req.der", 0, 0, &st), 0);
  ck_assert_int_eq(st.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  ck_assert_int_eq(st.cert_status, V_OCSP_CERTSTATUS_GOOD);
  ck_assert_str_eq(ftps_ocsp_status_str(st.cert_status), "good");
  ck_assert(st.this_update <= now && st.this_update > now - 3600);
  /* -ndays 1 */
  ck_assert_int_eq((long) (st.next_update - st.this_update), 86400L);
  ck_assert_int_eq((long) st.valid_until, (long) st.next_update);
}
END_TEST

START_TEST(test_no_next_update_lives_an_hour) {
  struct ftps_ocsp_status st;

  ck_assert_int_eq(check("good-nonext.der", "leaf.pem", NULL, 0, 0, &st), 0);
  ck_assert_int_eq((long) st.next_update, 0L);
  ck_assert_int_eq((long) (st.valid_until - st.this_update),
    (long) FTPS_OCSP_NO_NEXT_UPDATE_LIFE);
  ck_assert_int_eq(check("good-nonext.der", "leaf.pem", NULL, 0,
    st.this_update + FTPS_OCSP_NO_NEXT_UPDATE_LIFE, &st), -1);
  ck_assert_int_eq(errno, ETIME);
}
END_TEST

START_TEST(test_revoked_refused) {
  struct ftps_ocsp_status st;

  ck_assert_int_eq(check("revoked.der", "revoked.pem", NULL, 0, 0, &st), -1);
  ck_assert_int_eq(errno, EKEYREVOKED);
  ck_assert_int_eq(st.cert_status, V_OCSP_CERTSTATUS_REVOKED);
  ck_assert_int_eq(st.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
  /* Not even NoVerify lets a revoked status through. */
  ck_assert_int_eq(check("revoked.der", "revoked.pem", NULL,
    FTPS_OCSP_NO_VERIFY, 0, &st), -1);
  ck_assert_int_eq(errno, EKEYREVOKED);
}
END_TEST

START_TEST(test_unknown_refused) {
  struct ftps_ocsp_status st;

  ck_assert_int_eq(check("unknown.der", "unknown.pem", NULL, 0, 0, &st), -1);
  ck_assert_int_eq(errno, ENOKEY);
  ck_assert_int_eq(st.cert_status, V_OCSP_CERTSTATUS_UNKNOWN);
}
END_TEST

START_TEST(test_other_certificate_refused) {
  struct ftps_ocsp_status st;

  /* A good response, but about another certificate. */
  ck_assert_int_eq(check("good.der", "revoked.pem", NULL, 0, 0, &st), -1);
  ck_assert_int_eq(errno, ENOENT);
  ck_assert_int_eq(st.cert_status, -1);
}
END_TEST

START_TEST(test_forged_signature_refused) {
  struct ftps_ocsp_status st;

  ck_assert_int_eq(check("rogue.der", "leaf.pem", NULL, 0, 0, &st), -1);
  ck_assert_int_eq(errno, EPERM);
  /* TLSStaplingOptions NoVerify skips only the signature. */
  ck_assert_int_eq(check("rogue.der", "leaf.pem", NULL, FTPS_OCSP_NO_VERIFY,
    0, &st), 0);
}
END_TEST

START_TEST(test_delegated_responder) {
  struct ftps_ocsp_status st;

  ck_assert_int_eq(check("delegated.der", "leaf.pem", NULL, 0, 0, &st), 0);
}
END_TEST

START_TEST(test_delegated_responder_certificate_from_chain) {
  struct der r = der("delegated-nocerts.der");
  X509 *c = cert("leaf.pem"), *ca = cert("ca.pem"),
    *delegate = cert("delegate.pem"), *rogue = cert("rogue-ca.pem");
  STACK_OF(X509) *chain = sk_X509_new_null();
  struct ftps_ocsp_status st;
  struct ftps_error err;

  /* The responder's certificate is neither in the response nor given. */
  ck_assert_int_eq(ftps_ocsp_check(r.p, r.len, c, ca, NULL, NULL, 0, 0,
    time(NULL), &st, &err), -1);
  ck_assert_int_eq(errno, EPERM);
  sk_X509_push(chain, rogue);
  sk_X509_push(chain, delegate);
  ck_assert_msg(ftps_ocsp_check(r.p, r.len, c, ca, chain, NULL, 0, 0,
    time(NULL), &st, &err) == 0, "%s", err.msg);
  sk_X509_pop_free(chain, X509_free);
  free(r.p);
  X509_free(c);
  X509_free(ca);
}
END_TEST

START_TEST(test_expired_and_future_refused) {
  struct ftps_ocsp_status st;
  time_t next;

  ck_assert_int_eq(check("good.der", "leaf.pem", NULL, 0, 0, &st), 0);
  next = st.next_update;
  ck_assert_int_eq(check("good.der", "leaf.pem", NULL, 0, next - 1, &st), 0);
  ck_assert_int_eq(check("good.der", "leaf.pem", NULL, 0, next, &st), -1);
  ck_assert_int_eq(errno, ETIME);
  ck_assert_int_eq(check("good.der", "leaf.pem", NULL, FTPS_OCSP_NO_VERIFY,
    next + 86400, &st), -1);
  ck_assert_int_eq(errno, ETIME);
  /* thisUpdate ahead of our clock by more than the skew */
  ck_assert_int_eq(check("good.der", "leaf.pem", NULL, 0,
    st.this_update - FTPS_OCSP_SKEW - 10, &st), -1);
  ck_assert_int_eq(errno, ETIME);
  ck_assert_int_eq(check("good.der", "leaf.pem", NULL, 0,
    st.this_update - FTPS_OCSP_SKEW + 10, &st), 0);
}
END_TEST

START_TEST(test_nonce) {
  struct ftps_ocsp_status st;

  ck_assert_int_eq(check("good-nonce.der", "leaf.pem", "req-nonce.der", 0, 0,
    &st), 0);
  /* Another request's nonce: a replay. */
  ck_assert_int_eq(check("good-nonce.der", "leaf.pem", "req-nonce2.der", 0, 0,
    &st), -1);
  ck_assert_int_eq(errno, EPERM);
  /* A pre-signed response without a nonce is tolerated. */
  ck_assert_int_eq(check("good.der", "leaf.pem", "req-nonce.der", 0, 0,
    &st), 0);
}
END_TEST

START_TEST(test_malformed_refused) {
  struct der r = der("good.der");
  X509 *c = cert("leaf.pem"), *ca = cert("ca.pem");
  struct ftps_ocsp_status st;
  struct ftps_error err;
  unsigned char *longer = malloc(r.len + 1);
  size_t cut;

  for (cut = 0; cut < r.len; cut += 7) {
    ck_assert_int_eq(ftps_ocsp_check(r.p, cut, c, ca, NULL, NULL, 0, 0,
      time(NULL), &st, &err), -1);
    ck_assert_int_eq(errno, EINVAL);
  }
  memcpy(longer, r.p, r.len);
  longer[r.len] = 0;
  ck_assert_int_eq(ftps_ocsp_check(longer, r.len + 1, c, ca, NULL, NULL, 0, 0,
    time(NULL), &st, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(ftps_ocsp_check(r.p, r.len, c, ca, NULL, NULL, 0, 0,
    time(NULL), &st, &err), 0);
  free(longer);
  free(r.p);
  X509_free(c);
  X509_free(ca);
}
END_TEST

/* What a responder sent is told apart from an OCSP response: a web page,
 * other DER, a truncated or padded response; a tryLater is one. */
START_TEST(test_is_response) {
  struct der r = der("good.der");
  static const unsigned char html[] = "<html>moved</html>\n";
  static const unsigned char seq[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
  OCSP_RESPONSE *later = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER,
    NULL);
  unsigned char *p = NULL, *longer = malloc(r.len + 1);
  int n = i2d_OCSP_RESPONSE(later, &p);

  ck_assert_int_eq(ftps_ocsp_is_response(r.p, r.len), 1);
  ck_assert_int_eq(ftps_ocsp_is_response(p, (size_t) n), 1);
  ck_assert_int_eq(ftps_ocsp_is_response(html, sizeof(html) - 1), 0);
  ck_assert_int_eq(ftps_ocsp_is_response(seq, sizeof(seq)), 0);
  ck_assert_int_eq(ftps_ocsp_is_response(r.p, r.len - 1), 0);
  ck_assert_int_eq(ftps_ocsp_is_response(NULL, 0), 0);
  memcpy(longer, r.p, r.len);
  longer[r.len] = 0;
  ck_assert_int_eq(ftps_ocsp_is_response(longer, r.len + 1), 0);
  free(longer);
  free(r.p);
  OPENSSL_free(p);
  OCSP_RESPONSE_free(later);
}
END_TEST

START_TEST(test_try_later_refused) {
  OCSP_RESPONSE *resp = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER,
    NULL);
  unsigned char *p = NULL;
  int n = i2d_OCSP_RESPONSE(resp, &p);
  X509 *c = cert("leaf.pem"), *ca = cert("ca.pem");
  struct ftps_ocsp_status st;
  struct ftps_error err;

  ck_assert_int_gt(n, 0);
  ck_assert_int_eq(ftps_ocsp_check(p, (size_t) n, c, ca, NULL, NULL, 0,
    FTPS_OCSP_NO_VERIFY, time(NULL), &st, &err), -1);
  ck_assert_int_eq(errno, EAGAIN);
  ck_assert_int_eq(st.response_status, OCSP_RESPONSE_STATUS_TRYLATER);
  ck_assert_ptr_nonnull(strstr(err.msg, "trylater"));
  OPENSSL_free(p);
  OCSP_RESPONSE_free(resp);
  X509_free(c);
  X509_free(ca);
}
END_TEST

START_TEST(test_refresh_at) {
  struct ftps_ocsp_status st;
  time_t now = 1000000;

  memset(&st, 0, sizeof(st));
  st.this_update = now - 100;
  st.valid_until = now - 100 + 86400;
  ck_assert_int_eq((long) ftps_ocsp_refresh_at(&st, now),
    (long) (now - 100 + 43200));
  /* Past the halfway point already: soon, not in a busy loop. */
  ck_assert_int_eq((long) ftps_ocsp_refresh_at(&st, now + 50000),
    (long) (now + 50000 + FTPS_OCSP_REFRESH_MIN));
}
END_TEST

START_TEST(test_responder_url) {
  X509 *leaf = cert("leaf.pem"), *noaia = cert("noaia.pem");
  char *url = ftps_ocsp_responder_url(leaf);

  ck_assert_ptr_nonnull(url);
  ck_assert_str_eq(url, "http://127.0.0.1:8899/");
  free(url);
  errno = 0;
  ck_assert_ptr_null(ftps_ocsp_responder_url(noaia));
  ck_assert_int_eq(errno, ENOENT);
  X509_free(leaf);
  X509_free(noaia);
}
END_TEST

/* has_nonce - does the DER request carry a nonce? */
static int has_nonce(const unsigned char *p, size_t len) {
  OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long) len);
  int res;

  ck_assert_ptr_nonnull(req);
  ck_assert_int_eq(OCSP_request_onereq_count(req), 1);
  res = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) >= 0;
  OCSP_REQUEST_free(req);
  return res;
}

START_TEST(test_request) {
  X509 *leaf = cert("leaf.pem"), *ca = cert("ca.pem");
  struct ftps_error err;
  unsigned char *der = NULL;
  size_t len = 0;

  ck_assert_int_eq(ftps_ocsp_request(leaf, ca, 1, &der, &len, &err), 0);
  ck_assert(has_nonce(der, len));
  OPENSSL_free(der);
  ck_assert_int_eq(ftps_ocsp_request(leaf, ca, 0, &der, &len, &err), 0);
  ck_assert(!has_nonce(der, len));
  OPENSSL_free(der);
  X509_free(leaf);
  X509_free(ca);
}
END_TEST

START_TEST(test_find_issuer) {
  X509 *leaf = cert("leaf.pem"), *ca = cert("ca.pem"),
    *rogue = cert("rogue-ca.pem");
  STACK_OF(X509) *chain = sk_X509_new_null();

  ck_assert_ptr_null(ftps_ocsp_find_issuer(leaf, chain));
  sk_X509_push(chain, rogue);
  ck_assert_ptr_null(ftps_ocsp_find_issuer(leaf, chain));
  sk_X509_push(chain, ca);
  ck_assert_ptr_eq(ftps_ocsp_find_issuer(leaf, chain), ca);
  ck_assert_ptr_null(ftps_ocsp_find_issuer(leaf, NULL));
  sk_X509_pop_free(chain, X509_free);
  X509_free(leaf);
}
END_TEST

START_TEST(test_read_file) {
  struct ftps_error err;
  unsigned char *p = NULL;
  size_t len;
  FILE *fp;

  ck_assert_int_eq(ftps_ocsp_read_file(path("absent.der"), &p, &len, &err),
    -1);
  ck_assert_int_eq(errno, ENOENT);
  fp = fopen(path("empty.der"), "w");
  ck_assert_ptr_nonnull(fp);
  fclose(fp);
  ck_assert_int_eq(ftps_ocsp_read_file(path("empty.der"), &p, &len, &err),
    -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(ftps_ocsp_read_file(dir, &p, &len, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *ocsp_suite(void) {
  Suite *s = suite_create("ocsp");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_good);
  tcase_add_test(tc, test_no_next_update_lives_an_hour);
  tcase_add_test(tc, test_revoked_refused);
  tcase_add_test(tc, test_unknown_refused);
  tcase_add_test(tc, test_other_certificate_refused);
  tcase_add_test(tc, test_forged_signature_refused);
  tcase_add_test(tc, test_delegated_responder);
  tcase_add_test(tc, test_delegated_responder_certificate_from_chain);
  tcase_add_test(tc, test_expired_and_future_refused);
  tcase_add_test(tc, test_nonce);
  tcase_add_test(tc, test_malformed_refused);
  tcase_add_test(tc, test_try_later_refused);
  tcase_add_test(tc, test_is_response);
  tcase_add_test(tc, test_refresh_at);
  tcase_add_test(tc, test_responder_url);
  tcase_add_test(tc, test_request);
  tcase_add_test(tc, test_find_issuer);
  tcase_add_test(tc, test_read_file);
  suite_add_tcase(s, tc);
  return s;
}

/* The responses are made now, by the openssl command line, so that the
 * tests check what a real responder sends. */
int main(void) {
  char cmd[8192];
  SRunner *sr;
  int failed;

  snprintf(dir, sizeof(dir), "%s", unit_fixture("ocsp"));
  snprintf(cmd, sizeof(cmd), "sh tests/fixtures/mkocsp.sh '%s' >/dev/null",
    dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "cannot make the OCSP fixtures: %s\n", cmd);
    return EXIT_FAILURE;
  }
  sr = srunner_create(ocsp_suite());
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

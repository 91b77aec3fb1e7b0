/*
 * check_ticketkeys.c - unit tests for mod_ftps/ticketkeys.c
 * (ftps/ticketkeys.h): TLSSessionTicketKeys' grammar, and the ring of
 * ticket keys on a simulated clock (rotation, count, age, the encrypting
 * key of a long session, the key callback, vhost scopes).
 */
#include <string.h>

#include <openssl/evp.h>

#include "ftps/ticketkeys.h"
#include "unit.h"

#define T0 1000000

/* parse - ftps_ticketkeys_parse on a space-separated string */
static int parse(const char *args, struct ftps_ticketkeys_conf *conf,
    struct ftps_error *err) {
  static char buf[256];
  char *argv[16], *tok, *save = NULL;
  int argc = 0;

  snprintf(buf, sizeof(buf), "%s", args);
  for (tok = strtok_r(buf, " ", &save); tok != NULL && argc < 16;
       tok = strtok_r(NULL, " ", &save)) {
    argv[argc++] = tok;
  }
  ftps_error_clear(err);
  return ftps_ticketkeys_parse(argc, argv, conf, err);
}

START_TEST(test_parse_accepts_mod_tls_grammar) {
  static const struct {
    const char *args;
    unsigned int age, count;
  } cases[] = {
    { "age 12h count 25", 43200, 25 },
    { "count 10", FTPS_TICKETKEYS_AGE_DEFAULT, 10 },
    { "age 90", 90, FTPS_TICKETKEYS_COUNT_DEFAULT },
    { "AGE 00:30:00", 1800, FTPS_TICKETKEYS_COUNT_DEFAULT },
    { "count 1 age 15m", 900, 1 },
    { "age 90s", 90, FTPS_TICKETKEYS_COUNT_DEFAULT },
    { "age 2hr Count 1000", 7200, 1000 },
    { "age 10sec", 10, FTPS_TICKETKEYS_COUNT_DEFAULT },
    { "age 3min", 180, FTPS_TICKETKEYS_COUNT_DEFAULT },
  };
  struct ftps_ticketkeys_conf conf;
  struct ftps_error err;
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ck_assert_msg(parse(cases[i].args, &conf, &err) == 0, "%s: %s",
      cases[i].args, err.msg);
    ck_assert_uint_eq(conf.max_age, cases[i].age);
    ck_assert_uint_eq(conf.max_count, cases[i].count);
  }
}
END_TEST

START_TEST(test_parse_refuses_with_reason) {
  static const struct {
    const char *args, *why;
  } cases[] = {
    { "age 5", "below the minimum" },
    { "age 9s", "below the minimum" },
    { "age 0", "below the minimum" },
    { "count 0", "expected a count" },
    { "count 1001", "expected a count" },
    { "count -1", "expected a count" },
    { "count 5x", "expected a count" },
    { "count ", "expected: [age secs]" },
    { "age 12d", "error parsing age" },
    { "age soon", "error parsing age" },
    { "age -60", "error parsing age" },
    { "age 99999999999", "error parsing age" },
    { "age 1h age 2h", "given twice" },
    { "count 2 count 3", "given twice" },
    { "size 3", "unknown parameter 'size'" },
    { "age", "expected: [age secs]" },
    { "age 1h count", "expected: [age secs]" },
    { "", "expected: [age secs]" },
  };
  struct ftps_ticketkeys_conf conf;
  struct ftps_error err;
  size_t i;

  conf.max_age = 77;
  conf.max_count = 7;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ck_assert_msg(parse(cases[i].args, &conf, &err) == -1, "%s accepted",
      cases[i].args);
    ck_assert_msg(strstr(err.msg, cases[i].why) != NULL, "%s: '%s'",
      cases[i].args, err.msg);
    /* A refusal leaves the configuration as it was. */
    ck_assert_uint_eq(conf.max_age, 77);
    ck_assert_uint_eq(conf.max_count, 7);
  }
}
END_TEST

START_TEST(test_interval_is_a_quarter_of_the_age_at_most_an_hour) {
  struct ftps_ticketkeys_conf conf;

  ftps_ticketkeys_conf_init(&conf);
  ck_assert_uint_eq(ftps_ticketkeys_interval(&conf), 3600);
  conf.max_age = 10;
  ck_assert_uint_eq(ftps_ticketkeys_interval(&conf), 2);
  conf.max_age = 600;
  ck_assert_uint_eq(ftps_ticketkeys_interval(&conf), 150);
  conf.max_age = 30 * 86400;
  ck_assert_uint_eq(ftps_ticketkeys_interval(&conf), 3600);
}
END_TEST

/* start - a fresh ring with this age and count; the first key's serial */
static unsigned long start(unsigned int age, unsigned int count, time_t now) {
  struct ftps_ticketkeys_conf conf;
  unsigned long made = 0;
  int dropped = -1;

  ftps_ticketkeys_release();
  conf.max_age = age;
  conf.max_count = count;
  ck_assert_int_eq(ftps_ticketkeys_start(&conf, now, &made, &dropped), 0);
  ck_assert_int_eq(dropped, 0);
  return made;
}

START_TEST(test_restart_keeps_keys_and_adds_one) {
  struct ftps_ticketkeys_conf conf;
  unsigned long made = 0;
  int dropped = -1;

  ck_assert_uint_eq(start(3600, 25, T0), 1);
  ck_assert_int_eq(ftps_ticketkeys_count(), 1);

  /* A restart: the ring is found again (here: the same process). */
  ftps_ticketkeys_conf_init(&conf);
  ck_assert_int_eq(ftps_ticketkeys_start(&conf, T0 + 5, &made, &dropped), 0);
  ck_assert_uint_eq(made, 2);
  ck_assert_int_eq(dropped, 0);
  ck_assert_int_eq(ftps_ticketkeys_count(), 2);
  ck_assert_uint_eq(ftps_ticketkeys_newest(), 2);

  /* A restart with a smaller count drops the oldest keys. */
  conf.max_count = 1;
  ck_assert_int_eq(ftps_ticketkeys_start(&conf, T0 + 6, &made, &dropped), 0);
  ck_assert_uint_eq(made, 3);
  ck_assert_int_eq(dropped, 2);
  ck_assert_int_eq(ftps_ticketkeys_count(), 1);
  ftps_ticketkeys_release();
}
END_TEST

START_TEST(test_count_limits_the_ring) {
  unsigned long made = 0;
  int dropped = -1;

  start(3600, 2, T0);
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 1, &made, &dropped), 0);
  ck_assert_int_eq(dropped, 0);
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 2, &made, &dropped), 0);
  ck_assert_uint_eq(made, 3);
  ck_assert_int_eq(dropped, 1);
  ck_assert_int_eq(ftps_ticketkeys_count(), 2);
  ftps_ticketkeys_release();
}
END_TEST

START_TEST(test_rotation_drops_aged_keys) {
  unsigned long made = 0;
  int dropped = -1;

  start(20, 25, T0);
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 5, &made, &dropped), 0);
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 10, &made, &dropped), 0);
  ck_assert_int_eq(dropped, 0);
  ck_assert_int_eq(ftps_ticketkeys_count(), 3);
  /* Key 1 is 20 s old, key 2 15 s. */
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 20, &made, &dropped), 0);
  ck_assert_int_eq(dropped, 1);
  ck_assert_int_eq(ftps_ticketkeys_count(), 3);
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 60, &made, &dropped), 0);
  ck_assert_int_eq(dropped, 3);
  ck_assert_int_eq(ftps_ticketkeys_count(), 1);
  ck_assert_uint_eq(ftps_ticketkeys_newest(), made);
  ftps_ticketkeys_release();
}
END_TEST

/* Two ends of one ticket: what the key callback set up to encrypt, and to
 * decrypt (OpenSSL's part: cipher and MAC over the ticket). */
struct ends {
  EVP_CIPHER_CTX *cctx;
  EVP_MAC_CTX *hctx;
  EVP_MAC *mac;
};

static void ends_new(struct ends *e) {
  e->cctx = EVP_CIPHER_CTX_new();
  e->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  e->hctx = EVP_MAC_CTX_new(e->mac);
  ck_assert_ptr_nonnull(e->cctx);
  ck_assert_ptr_nonnull(e->hctx);
}

static void ends_free(struct ends *e) {
  EVP_CIPHER_CTX_free(e->cctx);
  EVP_MAC_CTX_free(e->hctx);
  EVP_MAC_free(e->mac);
}

/* seal - encrypt msg at now: the key name, iv, ciphertext and MAC */
static int seal(time_t now, unsigned char *name, unsigned char *iv,
    unsigned char *ct, int *ctlen, unsigned char *tag) {
  struct ends e;
  const unsigned char msg[] = "a serialized TLS session, 48 bytes long.......";
  int n = 0, fin = 0, rc;
  size_t taglen = 0;

  ends_new(&e);
  rc = ftps_ticketkeys_cb_at(now, 0, name, iv, e.cctx, e.hctx, 1);
  if (rc == 1) {
    ck_assert_int_eq(EVP_EncryptUpdate(e.cctx, ct, &n, msg, sizeof(msg)), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(e.cctx, ct + n, &fin), 1);
    *ctlen = n + fin;
    ck_assert_int_eq(EVP_MAC_init(e.hctx, NULL, 0, NULL), 1);
    ck_assert_int_eq(EVP_MAC_update(e.hctx, ct, *ctlen), 1);
    ck_assert_int_eq(EVP_MAC_final(e.hctx, tag, &taglen, 32), 1);
  }
  ends_free(&e);
  return rc;
}

/* open_at - decrypt what seal made, at now: the callback's answer; a
 * ticket it accepts must decrypt to the message with the same MAC */
static int open_on(time_t now, int data, unsigned char *name,
    unsigned char *iv, const unsigned char *ct, int ctlen,
    const unsigned char *tag) {
  struct ends e;
  unsigned char pt[128], mac[32];
  int n = 0, fin = 0, rc;
  size_t maclen = 0;

  ends_new(&e);
  rc = ftps_ticketkeys_cb_at(now, data, name, iv, e.cctx, e.hctx, 0);
  if (rc == 1 || rc == 2) {
    ck_assert_int_eq(EVP_MAC_init(e.hctx, NULL, 0, NULL), 1);
    ck_assert_int_eq(EVP_MAC_update(e.hctx, ct, ctlen), 1);
    ck_assert_int_eq(EVP_MAC_final(e.hctx, mac, &maclen, sizeof(mac)), 1);
    ck_assert_mem_eq(mac, tag, 32);
    ck_assert_int_eq(EVP_DecryptUpdate(e.cctx, pt, &n, ct, ctlen), 1);
    ck_assert_int_eq(EVP_DecryptFinal_ex(e.cctx, pt + n, &fin), 1);
    ck_assert_int_eq(n + fin, 47);
    ck_assert_str_eq((char *) pt, "a serialized TLS session, 48 bytes long.......");
  }
  ends_free(&e);
  return rc;
}

#define open_at(now, name, iv, ct, ctlen, tag) \
  open_on(now, 0, name, iv, ct, ctlen, tag)

START_TEST(test_newest_encrypts_older_decrypt_until_aged) {
  unsigned char name[16], iv[EVP_MAX_IV_LENGTH], ct[128], tag[32];
  unsigned char name2[16], iv2[EVP_MAX_IV_LENGTH], ct2[128], tag2[32];
  unsigned char unknown[16];
  unsigned long made;
  int ctlen = 0, ctlen2 = 0, dropped;

  start(100, 25, T0);
  ck_assert_int_eq(seal(T0 + 1, name, iv, ct, &ctlen, tag), 1);
  ck_assert_int_eq(open_at(T0 + 2, name, iv, ct, ctlen, tag), 1);

  /* A new key: the old one still decrypts, and asks for a renewal. */
  ck_assert_int_eq(ftps_ticketkeys_rotate(T0 + 25, &made, &dropped), 0);
  ck_assert_int_eq(open_at(T0 + 26, name, iv, ct, ctlen, tag), 2);
  ck_assert_int_eq(seal(T0 + 26, name2, iv2, ct2, &ctlen2, tag2), 1);
  ck_assert_mem_ne(name, name2, 16);

  /* Aged out: a full handshake, not an error; but a data connection of
   * the process that holds the key may still resume it (the binding
   * then asks for the session's own token). */
  ck_assert_int_eq(open_at(T0 + 100, name, iv, ct, ctlen, tag), 0);
  ck_assert_int_eq(open_on(T0 + 100, 1, name, iv, ct, ctlen, tag), 2);
  ck_assert_int_eq(open_at(T0 + 99, name2, iv2, ct2, ctlen2, tag2), 1);

  memset(unknown, 0x5a, sizeof(unknown));
  ck_assert_int_eq(open_at(T0 + 27, unknown, iv, ct, ctlen, tag), 0);
  ck_assert_int_eq(open_on(T0 + 27, 1, unknown, iv, ct, ctlen, tag), 0);
  ftps_ticketkeys_release();
}
END_TEST

START_TEST(test_long_session_makes_its_own_key) {
  unsigned char name[16], name2[16], iv[EVP_MAX_IV_LENGTH], ct[128], tag[32];
  int ctlen = 0;

  /* A session forked at T0 whose master rotates no more for it: after
   * half the age its tickets get a key of its own, which it decrypts. */
  start(100, 25, T0);
  ck_assert_int_eq(seal(T0 + 49, name, iv, ct, &ctlen, tag), 1);
  ck_assert_uint_eq(ftps_ticketkeys_newest(), 1);
  ck_assert_int_eq(seal(T0 + 50, name2, iv, ct, &ctlen, tag), 1);
  ck_assert_uint_eq(ftps_ticketkeys_newest(), 2);
  ck_assert_mem_ne(name, name2, 16);
  ck_assert_int_eq(open_at(T0 + 140, name2, iv, ct, ctlen, tag), 1);
  ftps_ticketkeys_release();
}
END_TEST

START_TEST(test_no_ring_no_ticket) {
  unsigned char name[16], iv[EVP_MAX_IV_LENGTH], ct[128], tag[32];
  unsigned char scope[FTPS_TICKETKEYS_SCOPE_LEN];
  int ctlen = 0;

  ftps_ticketkeys_release();
  ck_assert_int_eq(seal(T0, name, iv, ct, &ctlen, tag), 0);
  ck_assert_int_eq(ftps_ticketkeys_count(), 0);
  ck_assert_int_eq(ftps_ticketkeys_scope("x", 1, scope), -1);
  ck_assert_int_eq(ftps_ticketkeys_lock() == 0 ||
    ftps_ticketkeys_lock() == -1, 1);
}
END_TEST

START_TEST(test_scope_stable_per_label_new_per_ring) {
  unsigned char a1[FTPS_TICKETKEYS_SCOPE_LEN], a2[FTPS_TICKETKEYS_SCOPE_LEN];
  unsigned char b[FTPS_TICKETKEYS_SCOPE_LEN], a3[FTPS_TICKETKEYS_SCOPE_LEN];
  struct ftps_ticketkeys_conf conf;
  unsigned long made;
  int dropped;

  start(3600, 25, T0);
  ck_assert_int_eq(ftps_ticketkeys_scope("sid=1\nname=a", 12, a1), 0);
  ck_assert_int_eq(ftps_ticketkeys_scope("sid=2\nname=b", 12, b), 0);
  ck_assert_mem_ne(a1, b, sizeof(a1));

  /* A restart keeps the secret: the same vhost, the same scope. */
  ftps_ticketkeys_conf_init(&conf);
  conf.max_count = 3;
  ck_assert_int_eq(ftps_ticketkeys_start(&conf, T0 + 1, &made, &dropped), 0);
  ck_assert_int_eq(ftps_ticketkeys_scope("sid=1\nname=a", 12, a2), 0);
  ck_assert_mem_eq(a1, a2, sizeof(a1));

  /* Another daemon (a new ring): another secret. */
  start(3600, 25, T0);
  ck_assert_int_eq(ftps_ticketkeys_scope("sid=1\nname=a", 12, a3), 0);
  ck_assert_mem_ne(a1, a3, sizeof(a1));
  ftps_ticketkeys_release();
}
END_TEST

START_TEST(test_install_sets_the_callback) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  struct ftps_error err;

  ck_assert_int_eq(ftps_ticketkeys_install(NULL, &err), -1);
  ck_assert_int_eq(ftps_ticketkeys_install(ctx, &err), 0);
  SSL_CTX_free(ctx);
}
END_TEST

static Suite *ticketkeys_suite(void) {
  Suite *s = suite_create("ticketkeys");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_parse_accepts_mod_tls_grammar);
  tcase_add_test(tc, test_parse_refuses_with_reason);
  tcase_add_test(tc, test_interval_is_a_quarter_of_the_age_at_most_an_hour);
  tcase_add_test(tc, test_restart_keeps_keys_and_adds_one);
  tcase_add_test(tc, test_count_limits_the_ring);
  tcase_add_test(tc, test_rotation_drops_aged_keys);
  tcase_add_test(tc, test_newest_encrypts_older_decrypt_until_aged);
  tcase_add_test(tc, test_long_session_makes_its_own_key);
  tcase_add_test(tc, test_no_ring_no_ticket);
  tcase_add_test(tc, test_scope_stable_per_label_new_per_ring);
  tcase_add_test(tc, test_install_sets_the_callback);
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(ticketkeys_suite)

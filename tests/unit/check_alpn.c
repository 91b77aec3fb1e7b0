/*
 * check_alpn.c - unit tests for mod_ftps/alpn.c (ftps/alpn.h): walking the
 * client's ALPN list by entries, and the ALPACA decision; and the server
 * context's ALPN callback (context.c) in in-memory handshakes: alert 120
 * for a list without "ftp", "ftp" selected, TLSNextProtocol off,
 * AllowAnyALPN.
 *
 * Table-driven: each row is one loop-test iteration, so a failure names
 * its row.  Lists are written as C strings with their length bytes
 * ("\x03" "ftp"); len is given, so a list may hold NUL bytes.
 */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ftps/alpn.h"
#include "ftps/binding.h"
#include "ftps/context.h"
#include "unit.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define L(s) (const unsigned char *) (s), sizeof(s) - 1

struct find_case {
  const unsigned char *list;
  size_t len;
  int found;                 /* 1, 0, or -1 (malformed) */
};

static const struct find_case find_cases[] = {
  /* Malformed: empty list, empty entry, an entry past the end. */
  { L(""), -1 },
  { L("\x00"), -1 },
  { L("\x03" "ftp" "\x00"), -1 },
  { L("\x04" "ftp"), -1 },
  { L("\x03" "ftp" "\x08" "http/1."), -1 },
  { L("\xff" "ftp"), -1 },
  /* Malformed after a match is still malformed. */
  { L("\x03" "ftp" "\x05" "h2"), -1 },

  { L("\x03" "ftp"), 1 },
  { L("\x08" "http/1.1" "\x03" "ftp"), 1 },
  { L("\x02" "h2" "\x03" "ftp" "\x08" "http/1.1"), 1 },
  { L("\x08" "http/1.1"), 0 },
  { L("\x02" "h2" "\x08" "http/1.1"), 0 },
  /* Whole entries only: "ftp" inside another name, or across two. */
  { L("\x04" "xftp"), 0 },
  { L("\x04" "ftps"), 0 },
  { L("\x03" "FTP"), 0 },
  { L("\x05" "a\x03" "ftp"), 0 },
  { L("\x01" "f" "\x02" "tp"), 0 },
  { L("\x04" "ftp\x00"), 0 },
  /* Names may hold any byte (RFC 7301: opaque octets). */
  { L("\x03" "\x00\x01\x02" "\x03" "ftp"), 1 },
};

START_TEST(test_find_table) {
  const struct find_case *c = &find_cases[_i];
  int rc;

  errno = 0;
  rc = ftps_alpn_find(c->list, c->len, FTPS_ALPN_FTP);
  ck_assert_msg(rc == c->found, "row %d: got %d, want %d", _i, rc, c->found);
  if (c->found < 0) {
    ck_assert_int_eq(errno, EINVAL);
  }
}
END_TEST

START_TEST(test_find_null_args) {
  errno = 0;
  ck_assert_int_eq(ftps_alpn_find(NULL, 4, "ftp"), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_alpn_find((const unsigned char *) "\x03" "ftp", 4,
    NULL), -1);
  ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* well_formed - the same rule, said recursively: an entry of 1 to 255
 * bytes that fits, then nothing or another well-formed list */
static int well_formed(const unsigned char *p, size_t n) {
  return n > 0 && p[0] != 0 && p[0] <= n - 1 &&
    (n - 1 - p[0] == 0 || well_formed(p + 1 + p[0], n - 1 - p[0]));
}

/* Every list of up to 3 bytes, in a buffer of exactly that size (so that
 * ASan sees a read past it): no such list can hold "ftp", so the walker
 * must say 0 for the well-formed ones and -1 for the others. */
START_TEST(test_find_short_lists_exhaustive) {
  unsigned int v, k, len;

  for (len = 1; len <= 3; len++) {
    unsigned char *buf = malloc(len);

    ck_assert_ptr_nonnull(buf);
    for (v = 0; v < (1U << (8 * len)); v++) {
      int rc, want;

      for (k = 0; k < len; k++) {
        buf[k] = (unsigned char) (v >> (8 * k));
      }
      rc = ftps_alpn_find(buf, len, FTPS_ALPN_FTP);
      want = well_formed(buf, len) ? 0 : -1;
      if (rc != want) {
        ck_abort_msg("len %u, value %06x: got %d, want %d", len, v, rc,
          want);
      }
    }
    free(buf);
  }
}
END_TEST

struct decide_case {
  const unsigned char *list;
  size_t len;
  unsigned int mode;
  int want;
};

#define ACK FTPS_ALPN_ACK
#define ANY FTPS_ALPN_ALLOW_ANY

static const struct decide_case decide_cases[] = {
  /* The default (TLSNextProtocol on, no AllowAnyALPN). */
  { L("\x03" "ftp"), ACK, FTPS_ALPN_SELECT },
  { L("\x08" "http/1.1" "\x03" "ftp"), ACK, FTPS_ALPN_SELECT },
  { L("\x08" "http/1.1"), ACK, FTPS_ALPN_REFUSE },
  { L("\x02" "h2" "\x08" "http/1.1"), ACK, FTPS_ALPN_REFUSE },
  { L("\x04" "xftp"), ACK, FTPS_ALPN_REFUSE },
  /* TLSNextProtocol off: "ftp" is served unanswered, others refused. */
  { L("\x03" "ftp"), 0, FTPS_ALPN_NOACK },
  { L("\x08" "http/1.1"), 0, FTPS_ALPN_REFUSE },
  /* AllowAnyALPN. */
  { L("\x08" "http/1.1"), ACK|ANY, FTPS_ALPN_NOACK },
  { L("\x03" "ftp"), ACK|ANY, FTPS_ALPN_SELECT },
  { L("\x08" "http/1.1"), ANY, FTPS_ALPN_NOACK },
  { L("\x03" "ftp"), ANY, FTPS_ALPN_NOACK },
  /* A malformed list, whatever the mode. */
  { L("\x04" "ftp"), ACK|ANY, FTPS_ALPN_REFUSE },
  { L(""), ANY, FTPS_ALPN_REFUSE },
};

START_TEST(test_decide_table) {
  const struct decide_case *c = &decide_cases[_i];
  int got = ftps_alpn_decide(c->list, c->len, c->mode);

  ck_assert_msg(got == c->want, "row %d: got %d, want %d", _i, got, c->want);
}
END_TEST

struct str_case {
  const unsigned char *list;
  size_t len;
  size_t bufsz;
  const char *want;
};

static const struct str_case str_cases[] = {
  { L("\x03" "ftp"), 64, "ftp" },
  { L("\x02" "h2" "\x08" "http/1.1"), 64, "h2,http/1.1" },
  { L("\x03" "a,b" "\x02" "\x01\\"), 64, "a\\x2Cb,\\x01\\x5C" },
  { L("\x04" "ftp"), 64, "(malformed)" },
  /* A short buffer: whole pieces only, always terminated. */
  { L("\x02" "h2" "\x08" "http/1.1"), 6, "h2,ht" },
  { L("\x02" "h2" "\x08" "http/1.1"), 3, "h2" },
  { L("\x01" "\x7f"), 4, "" },
  { L("\x01" "\x7f"), 5, "\\x7F" },
  { L("\x04" "ftp"), 5, "" },
};

START_TEST(test_str_table) {
  const struct str_case *c = &str_cases[_i];
  char buf[64];

  memset(buf, 'Z', sizeof(buf));
  ck_assert_ptr_eq(ftps_alpn_str(c->list, c->len, buf, c->bufsz), buf);
  ck_assert_msg(strcmp(buf, c->want) == 0, "row %d: got '%s', want '%s'",
    _i, buf, c->want);
  ck_assert_uint_lt(strlen(buf), c->bufsz);
}
END_TEST

START_TEST(test_str_no_room) {
  char buf[1] = { 'Z' };

  ck_assert_ptr_null(ftps_alpn_str((const unsigned char *) "\x01" "a", 2,
    NULL, 10));
  ftps_alpn_str((const unsigned char *) "\x01" "a", 2, buf, 0);
  ck_assert_int_eq(buf[0], 'Z');
  ftps_alpn_str((const unsigned char *) "\x01" "a", 2, buf, 1);
  ck_assert_int_eq(buf[0], '\0');
}
END_TEST

/* The server context's ALPN callback */

static struct ftps_keypair kp;

static void ctx_setup(void) {
  struct ftps_error err;

  ftps_keypair_init(&kp);
  ck_assert_msg(ftps_keypair_read_file(&kp, unit_fixture("selfsigned.pem"),
    NULL, NULL, &err) == 0, "selfsigned.pem: %s", err.msg);
  ck_assert_int_eq(ftps_binding_renew(), 0);
}

static void ctx_teardown(void) {
  ftps_keypair_free(&kp);
  ERR_clear_error();
}

/* handshake - a client offering the ALPN list (wire form, NULL: none) to
 * a server context with TLSNextProtocol alpn and AllowAnyALPN any, over
 * memory BIOs: 1 if it completed (*selected: the ALPN the client got, ""
 * for none), 0 if it failed (*alert: the alert the client received) */
static int handshake(int version, const unsigned char *list, size_t len,
    int alpn, int any, char *selected, int *alert) {
  struct ftps_context_props props;
  struct ftps_error err;
  SSL_CTX *sctx, *cctx;
  SSL *server, *client;
  const unsigned char *got = NULL;
  unsigned int gotlen = 0;
  int i, done = 0, failed = 0;

  ftps_context_props_init(&props);
  props.keypairs[0] = &kp;
  props.nkeypairs = 1;
  props.alpn = alpn;
  props.alpn_any = any;
  sctx = ftps_context_new(&props, NULL, NULL, &err);
  ck_assert_msg(sctx != NULL, "ftps_context_new: %s", err.msg);
  cctx = SSL_CTX_new(TLS_client_method());
  ck_assert_ptr_nonnull(cctx);
  SSL_CTX_set_min_proto_version(cctx, version);
  SSL_CTX_set_max_proto_version(cctx, version);
  if (list != NULL) {
    ck_assert_int_eq(SSL_CTX_set_alpn_protos(cctx, list, len), 0);
  }

  server = SSL_new(sctx);
  client = SSL_new(cctx);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  {
    BIO *a, *b;

    ck_assert_int_eq(BIO_new_bio_pair(&a, 0, &b, 0), 1);
    SSL_set_bio(server, a, a);
    SSL_set_bio(client, b, b);
  }

  *alert = 0;
  for (i = 0; i < 100 && !done && !failed; i++) {
    int c = SSL_do_handshake(client), s = SSL_do_handshake(server);

    if (c == 1 && s == 1) {
      done = 1;
    } else if ((c <= 0 && SSL_get_error(client, c) == SSL_ERROR_SSL) ||
               (s <= 0 && SSL_get_error(server, s) == SSL_ERROR_SSL)) {
      failed = 1;
    }
  }
  if (failed) {
    /* the client reads the server's alert */
    (void) SSL_do_handshake(client);
    *alert = ERR_GET_REASON(ERR_peek_last_error()) -
      SSL_AD_REASON_OFFSET;
  }
  ERR_clear_error();

  SSL_get0_alpn_selected(client, &got, &gotlen);
  snprintf(selected, 32, "%.*s", (int) gotlen, got != NULL ?
    (const char *) got : "");
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
  return done;
}

struct ctx_case {
  const unsigned char *list;  /* wire form; NULL: no ALPN */
  size_t len;
  int alpn, any;              /* TLSNextProtocol, AllowAnyALPN */
  int served;
  const char *selected;
};

static const struct ctx_case ctx_cases[] = {
  { NULL, 0, 1, 0, 1, "" },
  { L("\x03" "ftp"), 1, 0, 1, "ftp" },
  { L("\x08" "http/1.1" "\x03" "ftp"), 1, 0, 1, "ftp" },
  { L("\x08" "http/1.1"), 1, 0, 0, "" },
  { L("\x02" "h2" "\x08" "http/1.1"), 1, 0, 0, "" },
  { L("\x04" "xftp"), 1, 0, 0, "" },
  { NULL, 0, 0, 0, 1, "" },
  { L("\x03" "ftp"), 0, 0, 1, "" },
  { L("\x08" "http/1.1"), 0, 0, 0, "" },
  { L("\x08" "http/1.1"), 1, 1, 1, "" },
  { L("\x03" "ftp"), 1, 1, 1, "ftp" },
  { L("\x08" "http/1.1"), 0, 1, 1, "" },
};

START_TEST(test_context_alpn) {
  const struct ctx_case *c = &ctx_cases[_i / 2];
  int version = (_i % 2) ? TLS1_3_VERSION : TLS1_2_VERSION, alert = -1;
  char selected[32];
  int served;

  served = handshake(version, c->list, c->len, c->alpn, c->any, selected,
    &alert);
  ck_assert_msg(served == c->served, "row %d, %s: served %d, want %d", _i / 2,
    version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2", served, c->served);
  if (served) {
    ck_assert_msg(strcmp(selected, c->selected) == 0, "row %d: ALPN '%s', "
      "want '%s'", _i / 2, selected, c->selected);
  } else {
    ck_assert_msg(alert == SSL_AD_NO_APPLICATION_PROTOCOL, "row %d: alert "
      "%d, want %d", _i / 2, alert, SSL_AD_NO_APPLICATION_PROTOCOL);
  }
}
END_TEST

static Suite *alpn_suite(void) {
  Suite *s = suite_create("alpn");
  TCase *tc;

  tc = tcase_create("find");
  tcase_add_loop_test(tc, test_find_table, 0, NELEMS(find_cases));
  tcase_add_test(tc, test_find_null_args);
  tcase_add_test(tc, test_find_short_lists_exhaustive);
  suite_add_tcase(s, tc);

  tc = tcase_create("decide");
  tcase_add_loop_test(tc, test_decide_table, 0, NELEMS(decide_cases));
  suite_add_tcase(s, tc);

  tc = tcase_create("str");
  tcase_add_loop_test(tc, test_str_table, 0, NELEMS(str_cases));
  tcase_add_test(tc, test_str_no_room);
  suite_add_tcase(s, tc);

  tc = tcase_create("context");
  tcase_add_checked_fixture(tc, ctx_setup, ctx_teardown);
  tcase_add_loop_test(tc, test_context_alpn, 0, 2 * NELEMS(ctx_cases));
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(alpn_suite)

/*
 * fuzz_directives.c - the value parsers of mod_ftps's directives
 * (mod_ftps/config.c, ftps_peer_field_valid of peer.c): TLSProtocol,
 * TLSOptions, TLSRenegotiate, the on/off words, TLSUserName,
 * TLSVerifyDepth.
 *
 * Input: one byte choosing the directive, then the directive's arguments
 * as a configuration line holds them (blank-separated words).
 * Promises checked: a success yields only known bits and sane numbers; a
 * failure leaves a message and the caller's value untouched; what
 * ftps_config_protocols_str prints parses back to the same set.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>

#include "ftps/config.h"
#include "ftps/peer.h"
#include "fuzz.h"

#define ALL_PROTOS (FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_1|FTPS_PROTO_TLSV1_2|\
  FTPS_PROTO_TLSV1_3)
/* Every option bit the parser knows, and one above them all that stands
 * for what an earlier line set (the parser ORs into it). */
#define ALL_OPTS ((FTPS_OPT_LAST << 1) - 1)
#define EARLIER_OPT (FTPS_OPT_LAST << 1)

static void fuzz_protocols(const struct fuzz_args *a) {
  struct ftps_error err;
  unsigned int protos = 0xdead, again = 0;
  int ignored = -1, ignored2 = -1, argc2 = 0;
  char buf[64], *words[8], *save = NULL, *w;

  ftps_error_clear(&err);
  if (ftps_config_parse_protocols(a->argc, a->argv, &protos, &ignored,
      &err) < 0) {
    FUZZ_ASSERT(errno == EINVAL && err.msg[0] != '\0');
    FUZZ_ASSERT(protos == 0xdead);
    return;
  }
  FUZZ_ASSERT(protos != 0 && (protos & ~ALL_PROTOS) == 0);
  FUZZ_ASSERT(ignored == 0 || ignored == 1);

  /* The canonical spelling reads back as the same set. */
  ftps_config_protocols_str(protos, buf, sizeof(buf));
  for (w = strtok_r(buf, " ", &save); w != NULL && argc2 < 8;
      w = strtok_r(NULL, " ", &save)) {
    words[argc2++] = w;
  }
  FUZZ_ASSERT(ftps_config_parse_protocols(argc2, (const char *const *) words,
    &again, &ignored2, &err) == 0);
  FUZZ_ASSERT(again == protos && ignored2 == 0);

  /* A short buffer is truncated, never overrun. */
  ftps_config_protocols_str(protos, buf, 5);
  FUZZ_ASSERT(strlen(buf) < 5);
}

static void fuzz_options(const struct fuzz_args *a) {
  struct ftps_error err;
  unsigned long opts = EARLIER_OPT, bit;

  ftps_error_clear(&err);
  if (ftps_config_parse_options(a->argc, a->argv, &opts, &err) < 0) {
    FUZZ_ASSERT(errno == EINVAL && err.msg[0] != '\0');
    FUZZ_ASSERT(opts == EARLIER_OPT);
    return;
  }
  /* ORed into what was there. */
  FUZZ_ASSERT((opts & EARLIER_OPT) != 0);
  opts &= ~EARLIER_OPT;
  FUZZ_ASSERT(opts != 0 && (opts & ~ALL_OPTS) == 0);
  for (bit = 1; bit <= ALL_OPTS; bit <<= 1) {
    if (opts & bit) {
      FUZZ_ASSERT(ftps_config_option_name(bit) != NULL);
    }
  }
}

static void fuzz_renegotiate(const struct fuzz_args *a) {
  struct ftps_error err;
  struct ftps_rekey rekey = { -7, -7, -7, -7 };

  ftps_error_clear(&err);
  if (ftps_config_parse_renegotiate(a->argc, a->argv, &rekey, &err) < 0) {
    FUZZ_ASSERT(errno == EINVAL && err.msg[0] != '\0');
    FUZZ_ASSERT(rekey.ctrl_secs == -7 && rekey.required == -7);
    return;
  }
  /* Kilobytes must still fit in bytes (the data limit is kept in bytes). */
  FUZZ_ASSERT(rekey.ctrl_secs >= 0 && rekey.data_kb >= 0 &&
    rekey.timeout >= 0);
  FUZZ_ASSERT(rekey.data_kb <= LONG_MAX / 1024);
  FUZZ_ASSERT(rekey.required >= -1 && rekey.required <= 1);
}

static void fuzz_bools(const struct fuzz_args *a) {
  int i;

  for (i = 0; i < a->argc; i++) {
    int b = ftps_config_parse_bool(a->argv[i]);

    FUZZ_ASSERT(b >= -1 && b <= 1);
  }
  FUZZ_ASSERT(ftps_config_parse_bool(NULL) == -1);
}

static void fuzz_username(const struct fuzz_args *a) {
  int i;

  for (i = 0; i < a->argc; i++) {
    int valid = ftps_peer_field_valid(a->argv[i]);

    FUZZ_ASSERT(valid == 0 || valid == 1);
    /* No certificate: never a match, and an invalid field says so. */
    FUZZ_ASSERT(ftps_peer_user_matches(NULL, a->argv[i], "u") ==
      (valid ? 0 : -1));
  }
}

/* depth_model - TLSVerifyDepth's grammar: 1 to 3 digits, at most 100 */
static int depth_model(const char *s, int *depth) {
  size_t len = strlen(s), i;
  long n = 0;

  if (len == 0) {
    return -1;
  }
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    if (n <= 1000) {
      n = n * 10 + (s[i] - '0');
    }
  }
  if (n > 100) {
    return -1;
  }
  *depth = (int) n;
  return 0;
}

static void fuzz_depth(const struct fuzz_args *a) {
  struct ftps_error err;
  int i;

  for (i = 0; i < a->argc; i++) {
    int got = -7, want = -7, rc;

    ftps_error_clear(&err);
    rc = ftps_config_parse_depth(a->argv[i], &got, &err);
    FUZZ_ASSERT(rc == depth_model(a->argv[i], &want));
    FUZZ_ASSERT(got == want);
    if (rc < 0) {
      FUZZ_ASSERT(errno == EINVAL && err.msg[0] != '\0');
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_args a;

  if (size < 1 || fuzz_args_split(&a, data + 1, size - 1) < 0) {
    return 0;
  }

  switch (data[0] % 6) {
    case 0:
      fuzz_protocols(&a);
      break;
    case 1:
      fuzz_options(&a);
      break;
    case 2:
      fuzz_renegotiate(&a);
      break;
    case 3:
      fuzz_bools(&a);
      break;
    case 4:
      fuzz_username(&a);
      break;
    default:
      fuzz_depth(&a);
      break;
  }
  fuzz_args_free(&a);
  return 0;
}

/*
 * fuzz_required.c - the TLSRequired grammar (ftps_config_parse_required,
 * mod_ftps/config.c), checked against an independent list of every
 * spelling the grammar accepts.
 *
 * Input: the value, as one directive argument (it ends at the first NUL).
 * Promises checked: exactly the spellings below are accepted, whatever
 * their case, each with its meaning; anything else fails with EINVAL and a
 * message, leaving the caller's value untouched.
 */
#include <errno.h>
#include <strings.h>

#include "ftps/config.h"
#include "fuzz.h"

struct spelling {
  const char *text;
  int ctrl, auth, data;
};

static const char *const truths[] = { "on", "yes", "true", "1" };
static const char *const lies[] = { "off", "no", "false", "0" };

/* The level terms and the data terms, which a "+" joins in either order. */
static const struct spelling levels[] = {
  { "ctrl", 1, 1, 0 }, { "control", 1, 1, 0 }, { "auth", 0, 1, 0 }
};
static const struct spelling datas[] = {
  { "data", 0, 0, FTPS_DATA_REQUIRED }, { "!data", 0, 0, FTPS_DATA_FORBIDDEN }
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* expected - what the grammar says of value: 1 and *r, or 0 (refused) */
static int expected(const char *value, struct ftps_required *r) {
  char pair[32];
  size_t i, j;

  for (i = 0; i < NELEMS(truths); i++) {
    if (strcasecmp(value, truths[i]) == 0) {
      r->ctrl = r->auth = 1;
      r->data = FTPS_DATA_REQUIRED;
      return 1;
    }
    if (strcasecmp(value, lies[i]) == 0) {
      r->ctrl = r->auth = 0;
      r->data = FTPS_DATA_OPTIONAL;
      return 1;
    }
  }
  if (strcasecmp(value, "both") == 0) {
    r->ctrl = r->auth = 1;
    r->data = FTPS_DATA_REQUIRED;
    return 1;
  }
  for (i = 0; i < NELEMS(levels); i++) {
    if (strcasecmp(value, levels[i].text) == 0) {
      r->ctrl = levels[i].ctrl;
      r->auth = levels[i].auth;
      r->data = FTPS_DATA_OPTIONAL;
      return 1;
    }
  }
  for (j = 0; j < NELEMS(datas); j++) {
    if (strcasecmp(value, datas[j].text) == 0) {
      r->ctrl = r->auth = 0;
      r->data = datas[j].data;
      return 1;
    }
  }
  for (i = 0; i < NELEMS(levels); i++) {
    for (j = 0; j < NELEMS(datas); j++) {
      int k;

      for (k = 0; k < 2; k++) {
        snprintf(pair, sizeof(pair), "%s+%s",
          k ? datas[j].text : levels[i].text,
          k ? levels[i].text : datas[j].text);
        if (strcasecmp(value, pair) == 0) {
          r->ctrl = levels[i].ctrl;
          r->auth = levels[i].auth;
          r->data = datas[j].data;
          return 1;
        }
      }
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ftps_required got = { 7, 7, 7 }, want;
  struct ftps_error err;
  char *value = fuzz_strdup(data, size);
  int rc, ok;

  if (value == NULL) {
    return 0;
  }

  ftps_error_clear(&err);
  rc = ftps_config_parse_required(value, &got, &err);
  ok = expected(value, &want);
  if (!ok) {
    FUZZ_ASSERT(rc == -1 && errno == EINVAL && err.msg[0] != '\0');
    FUZZ_ASSERT(got.ctrl == 7 && got.auth == 7 && got.data == 7);
  } else {
    FUZZ_ASSERT(rc == 0);
    FUZZ_ASSERT(got.ctrl == want.ctrl && got.auth == want.auth &&
      got.data == want.data);
  }
  free(value);
  return 0;
}

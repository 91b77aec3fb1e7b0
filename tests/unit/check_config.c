/*
 * check_config.c - unit tests for mod_ftps/config.c (ftps/config.h).
 *
 * Table-driven: each table row is one loop-test iteration, so a failure
 * names its row.  Error and NULL-argument rows come first.
 */
#include <errno.h>
#include <string.h>

#include "ftps/config.h"
#include "unit.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Outputs are preset to this, to prove that a failure leaves them alone. */
#define SENTINEL 0xA5A5U

/* TLSProtocol */

struct proto_case {
  const char *argv[5];       /* NULL-terminated */
  int rc;
  unsigned int protos;       /* when rc == 0 */
  int ignored;               /* when rc == 0 */
  const char *msg;           /* substring of err when rc == -1 */
};

static const struct proto_case proto_cases[] = {
  /* Errors. */
  { { NULL }, -1, 0, 0, "at least one" },
  { { "TLSv1.4" }, -1, 0, 0, "unknown protocol 'TLSv1.4'" },
  { { "TLSv1.2", "TLSv1.4" }, -1, 0, 0, "unknown protocol 'TLSv1.4'" },
  { { "ALL", "-TLSv1.4" }, -1, 0, 0, "unknown protocol '-TLSv1.4'" },
  { { "SSLv2" }, -1, 0, 0, "unknown protocol 'SSLv2'" },
  { { "" }, -1, 0, 0, "unknown protocol ''" },
  { { "+" }, -1, 0, 0, "unknown protocol '+'" },
  { { "-" }, -1, 0, 0, "unknown protocol '-'" },
  { { "TLSv1.2+" }, -1, 0, 0, "unknown protocol" },
  { { "++TLSv1.2" }, -1, 0, 0, "unknown protocol '++TLSv1.2'" },
  { { " TLSv1.2" }, -1, 0, 0, "unknown protocol" },
  { { "TLSv1.3", "-TLSv1.3" }, -1, 0, 0, "no protocol left enabled" },
  { { "ALL", "-TLSv1.2", "-TLSv1.3" }, -1, 0, 0, "no protocol left enabled" },
  { { "-ALL" }, -1, 0, 0, "no protocol left enabled" },
  { { "SSLv3" }, -1, 0, 0, "no protocol left enabled" },
  { { "-TLSv1.2", "-TLSv1.3" }, -1, 0, 0, "no protocol left enabled" },

  /* Single names, any case. */
  { { "TLSv1" }, 0, FTPS_PROTO_TLSV1, 0, NULL },
  { { "TLSv1.0" }, 0, FTPS_PROTO_TLSV1, 0, NULL },
  { { "TLSv1.1" }, 0, FTPS_PROTO_TLSV1_1, 0, NULL },
  { { "TLSv1.2" }, 0, FTPS_PROTO_TLSV1_2, 0, NULL },
  { { "TLSv1.3" }, 0, FTPS_PROTO_TLSV1_3, 0, NULL },
  { { "tlsv1.3" }, 0, FTPS_PROTO_TLSV1_3, 0, NULL },
  { { "TLSV1.0" }, 0, FTPS_PROTO_TLSV1, 0, NULL },
  { { "ALL" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "all" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "SSLv23" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "sslv23" }, 0, FTPS_PROTO_SECURE, 0, NULL },

  /* Plain lists. */
  { { "TLSv1.2", "TLSv1.3" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "TLSv1", "TLSv1.1" }, 0, FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_1, 0, NULL },
  { { "TLSv1.2", "TLSv1.2" }, 0, FTPS_PROTO_TLSV1_2, 0, NULL },
  { { "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3" }, 0, 0x0FU, 0, NULL },
  { { "SSLv3", "TLSv1.2" }, 0, FTPS_PROTO_TLSV1_2, 1, NULL },
  { { "TLSv1.3", "sslv3" }, 0, FTPS_PROTO_TLSV1_3, 1, NULL },

  /* Modifiers, starting from a bare first word. */
  { { "ALL", "-TLSv1.3" }, 0, FTPS_PROTO_TLSV1_2, 0, NULL },
  { { "ALL", "-TLSv1.2" }, 0, FTPS_PROTO_TLSV1_3, 0, NULL },
  { { "ALL", "-SSLv3" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "ALL", "-TLSv1" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "ALL", "+TLSv1.1" }, 0, FTPS_PROTO_SECURE|FTPS_PROTO_TLSV1_1, 0, NULL },
  { { "ALL", "+SSLv3" }, 0, FTPS_PROTO_SECURE, 1, NULL },
  { { "TLSv1.2", "+TLSv1.3" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "TLSv1.1", "+TLSv1.0" }, 0, FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_1, 0,
    NULL },
  { { "ALL", "-TLSv1.3", "+TLSv1.3" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "ALL", "-tlsv1.3" }, 0, FTPS_PROTO_TLSV1_2, 0, NULL },

  /* A modifier first starts from FTPS_PROTO_DEFAULT. */
  { { "+TLSv1.1" }, 0, FTPS_PROTO_DEFAULT|FTPS_PROTO_TLSV1_1, 0, NULL },
  { { "-TLSv1.2" }, 0, FTPS_PROTO_DEFAULT & ~FTPS_PROTO_TLSV1_2, 0, NULL },
  { { "-TLSv1.3", "+TLSv1" }, 0, FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_2, 0,
    NULL },
  { { "+ALL" }, 0, FTPS_PROTO_SECURE, 0, NULL },

  /* A bare name after the first word adds. */
  { { "ALL", "-TLSv1.3", "TLSv1.3" }, 0, FTPS_PROTO_SECURE, 0, NULL },
  { { "TLSv1.2", "-TLSv1.2", "TLSv1.1" }, 0, FTPS_PROTO_TLSV1_1, 0, NULL },
};

static int argv_count(const char *const *argv) {
  int n = 0;

  while (argv[n] != NULL) {
    n++;
  }
  return n;
}

START_TEST(test_protocols_null_args) {
  static const char *const argv[] = { "TLSv1.2" };
  struct ftps_error err;
  unsigned int protos = SENTINEL;
  int ignored = 7;

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_protocols(1, argv, NULL, &ignored,
    &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(ignored, 7);

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_protocols(1, NULL, &protos, &ignored,
    &err), -1);
  ck_assert_int_eq(errno, EINVAL);

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_protocols(-1, argv, &protos, &ignored,
    &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_uint_eq(protos, SENTINEL);
  ck_assert_int_eq(ignored, 7);
}
END_TEST

START_TEST(test_protocols_null_element) {
  static const char *const argv[] = { "ALL", NULL };
  struct ftps_error err;
  unsigned int protos = SENTINEL;

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_protocols(2, argv, &protos, NULL,
    &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_uint_eq(protos, SENTINEL);
}
END_TEST

START_TEST(test_protocols_null_err_and_ignored) {
  static const char *const bad[] = { "TLSv9" };
  static const char *const good[] = { "SSLv3", "TLSv1.3" };
  unsigned int protos = SENTINEL;

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_protocols(1, bad, &protos, NULL, NULL),
    -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_uint_eq(protos, SENTINEL);

  ck_assert_int_eq(ftps_config_parse_protocols(2, good, &protos, NULL, NULL),
    0);
  ck_assert_uint_eq(protos, FTPS_PROTO_TLSV1_3);
}
END_TEST

START_TEST(test_protocols_table) {
  const struct proto_case *c = &proto_cases[_i];
  struct ftps_error err;
  unsigned int protos = SENTINEL;
  int ignored = 7, rc;

  ftps_error_clear(&err);
  errno = 0;
  rc = ftps_config_parse_protocols(argv_count(c->argv), c->argv, &protos,
    &ignored, &err);
  ck_assert_msg(rc == c->rc, "row %d (%s): rc %d, expected %d (%s)", _i,
    c->argv[0] ? c->argv[0] : "(none)", rc, c->rc, err.msg);

  if (c->rc == 0) {
    ck_assert_msg(protos == c->protos, "row %d: protos %#x, expected %#x",
      _i, protos, c->protos);
    ck_assert_int_eq(ignored, c->ignored);

  } else {
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(protos, SENTINEL);
    ck_assert_int_eq(ignored, 7);
    ck_assert_msg(strstr(err.msg, c->msg) != NULL,
      "row %d: message '%s' lacks '%s'", _i, err.msg, c->msg);
  }
}
END_TEST

struct proto_str_case {
  unsigned int protos;
  size_t bufsz;
  const char *expected;
};

static const struct proto_str_case proto_str_cases[] = {
  /* Short buffers truncate, always NUL-terminated. */
  { FTPS_PROTO_SECURE, 1, "" },
  { FTPS_PROTO_SECURE, 2, "T" },
  { FTPS_PROTO_SECURE, 8, "TLSv1.2" },
  { FTPS_PROTO_SECURE, 9, "TLSv1.2 " },
  { FTPS_PROTO_SECURE, 10, "TLSv1.2 T" },
  { FTPS_PROTO_SECURE, 15, "TLSv1.2 TLSv1." },
  { FTPS_PROTO_SECURE, 16, "TLSv1.2 TLSv1.3" },
  { 0x0FU, 20, "TLSv1 TLSv1.1 TLSv1" },

  { 0, 64, "" },
  { 0xF0U, 64, "" },
  { FTPS_PROTO_TLSV1, 64, "TLSv1" },
  { FTPS_PROTO_TLSV1_1, 64, "TLSv1.1" },
  { FTPS_PROTO_TLSV1_2, 64, "TLSv1.2" },
  { FTPS_PROTO_TLSV1_3, 64, "TLSv1.3" },
  { FTPS_PROTO_SECURE, 64, "TLSv1.2 TLSv1.3" },
  { FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_3, 64, "TLSv1 TLSv1.3" },
  { 0x0FU, 64, "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3" },
  { 0xFFU, 64, "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3" },
};

START_TEST(test_protocols_str_null) {
  char buf[4] = "xyz";

  ck_assert_ptr_null(ftps_config_protocols_str(FTPS_PROTO_SECURE, NULL, 16));
  ck_assert_ptr_eq(ftps_config_protocols_str(FTPS_PROTO_SECURE, buf, 0), buf);
  ck_assert_str_eq(buf, "xyz");
}
END_TEST

START_TEST(test_protocols_str_table) {
  const struct proto_str_case *c = &proto_str_cases[_i];
  char buf[80];

  memset(buf, 'X', sizeof(buf));
  ck_assert_ptr_eq(ftps_config_protocols_str(c->protos, buf, c->bufsz), buf);
  ck_assert_str_eq(buf, c->expected);
  /* Nothing written past bufsz. */
  ck_assert_int_eq(buf[c->bufsz], 'X');
}
END_TEST

/* Every formatted set parses back to itself. */
START_TEST(test_protocols_round_trip) {
  unsigned int protos = (unsigned int) _i, parsed = 0;
  char buf[64], *argv[4], *save = NULL, *word;
  int argc = 0;

  ftps_config_protocols_str(protos, buf, sizeof(buf));
  for (word = strtok_r(buf, " ", &save); word != NULL;
       word = strtok_r(NULL, " ", &save)) {
    argv[argc++] = word;
  }
  ck_assert_int_eq(ftps_config_parse_protocols(argc,
    (const char *const *) argv, &parsed, NULL, NULL), 0);
  ck_assert_uint_eq(parsed, protos);
}
END_TEST

/* TLSRequired */

struct bool_case {
  const char *value;
  int expected;
};

static const struct bool_case bool_cases[] = {
  { NULL, -1 }, { "", -1 }, { "2", -1 }, { "onn", -1 }, { "o", -1 },
  { "yes ", -1 }, { " no", -1 }, { "enable", -1 }, { "01", -1 },
  { "on", 1 }, { "ON", 1 }, { "On", 1 }, { "yes", 1 }, { "YES", 1 },
  { "true", 1 }, { "True", 1 }, { "1", 1 },
  { "off", 0 }, { "OFF", 0 }, { "no", 0 }, { "No", 0 }, { "false", 0 },
  { "FALSE", 0 }, { "0", 0 },
};

START_TEST(test_bool_table) {
  const struct bool_case *c = &bool_cases[_i];

  errno = 0;
  ck_assert_msg(ftps_config_parse_bool(c->value) == c->expected,
    "row %d '%s'", _i, c->value ? c->value : "(null)");
  if (c->expected == -1) {
    ck_assert_int_eq(errno, EINVAL);
  }
}
END_TEST

struct req_case {
  const char *value;
  int rc;
  int ctrl, auth, data;
};

static const struct req_case req_cases[] = {
  /* Errors. */
  { "", -1, 0, 0, 0 },
  { "x", -1, 0, 0, 0 },
  { "ctr", -1, 0, 0, 0 },
  { "ctrl ", -1, 0, 0, 0 },
  { "+", -1, 0, 0, 0 },
  { "ctrl+", -1, 0, 0, 0 },
  { "+data", -1, 0, 0, 0 },
  { "ctrl+auth", -1, 0, 0, 0 },
  { "auth+ctrl", -1, 0, 0, 0 },
  { "data+!data", -1, 0, 0, 0 },
  { "data+data", -1, 0, 0, 0 },
  { "ctrl+data+auth", -1, 0, 0, 0 },
  { "both+data", -1, 0, 0, 0 },
  { "on+data", -1, 0, 0, 0 },
  { "!ctrl", -1, 0, 0, 0 },
  { "!auth", -1, 0, 0, 0 },
  { "!!data", -1, 0, 0, 0 },
  { "! data", -1, 0, 0, 0 },
  { "!", -1, 0, 0, 0 },
  { "2", -1, 0, 0, 0 },

  /* Booleans. */
  { "on", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "ON", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "yes", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "true", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "1", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "off", 0, 0, 0, FTPS_DATA_OPTIONAL },
  { "Off", 0, 0, 0, FTPS_DATA_OPTIONAL },
  { "no", 0, 0, 0, FTPS_DATA_OPTIONAL },
  { "false", 0, 0, 0, FTPS_DATA_OPTIONAL },
  { "0", 0, 0, 0, FTPS_DATA_OPTIONAL },

  /* Single terms. */
  { "ctrl", 0, 1, 1, FTPS_DATA_OPTIONAL },
  { "CTRL", 0, 1, 1, FTPS_DATA_OPTIONAL },
  { "control", 0, 1, 1, FTPS_DATA_OPTIONAL },
  { "Control", 0, 1, 1, FTPS_DATA_OPTIONAL },
  { "auth", 0, 0, 1, FTPS_DATA_OPTIONAL },
  { "data", 0, 0, 0, FTPS_DATA_REQUIRED },
  { "DATA", 0, 0, 0, FTPS_DATA_REQUIRED },
  { "!data", 0, 0, 0, FTPS_DATA_FORBIDDEN },
  { "!Data", 0, 0, 0, FTPS_DATA_FORBIDDEN },
  { "both", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "BOTH", 0, 1, 1, FTPS_DATA_REQUIRED },

  /* Pairs, mod_tls's order. */
  { "ctrl+data", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "Ctrl+Data", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "ctrl+!data", 0, 1, 1, FTPS_DATA_FORBIDDEN },
  { "auth+data", 0, 0, 1, FTPS_DATA_REQUIRED },
  { "auth+!data", 0, 0, 1, FTPS_DATA_FORBIDDEN },
  { "AUTH+!DATA", 0, 0, 1, FTPS_DATA_FORBIDDEN },
  { "control+data", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "control+!data", 0, 1, 1, FTPS_DATA_FORBIDDEN },

  /* Pairs, reversed: accepted by mod_ftps, not by mod_tls. */
  { "data+ctrl", 0, 1, 1, FTPS_DATA_REQUIRED },
  { "!data+ctrl", 0, 1, 1, FTPS_DATA_FORBIDDEN },
  { "data+auth", 0, 0, 1, FTPS_DATA_REQUIRED },
  { "!data+auth", 0, 0, 1, FTPS_DATA_FORBIDDEN },
  { "data+control", 0, 1, 1, FTPS_DATA_REQUIRED },
};

START_TEST(test_required_null_args) {
  struct ftps_required req = { 5, 6, 7 };
  struct ftps_error err;

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_required(NULL, &req, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(req.ctrl, 5);
  ck_assert_int_eq(req.auth, 6);
  ck_assert_int_eq(req.data, 7);

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_required("on", NULL, &err), -1);
  ck_assert_int_eq(errno, EINVAL);

  /* err may be NULL. */
  errno = 0;
  ck_assert_int_eq(ftps_config_parse_required("bogus", &req, NULL), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(ftps_config_parse_required("ctrl", &req, NULL), 0);
  ck_assert_int_eq(req.ctrl, 1);
}
END_TEST

START_TEST(test_required_table) {
  const struct req_case *c = &req_cases[_i];
  struct ftps_required req = { 5, 6, 7 };
  struct ftps_error err;
  char expected[FTPS_ERROR_MAX];
  int rc;

  ftps_error_clear(&err);
  errno = 0;
  rc = ftps_config_parse_required(c->value, &req, &err);
  ck_assert_msg(rc == c->rc, "row %d '%s': rc %d, expected %d", _i,
    c->value, rc, c->rc);

  if (c->rc == 0) {
    ck_assert_msg(req.ctrl == c->ctrl && req.auth == c->auth &&
      req.data == c->data, "row %d '%s': got {%d,%d,%d}", _i, c->value,
      req.ctrl, req.auth, req.data);

  } else {
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(req.ctrl, 5);
    ck_assert_int_eq(req.auth, 6);
    ck_assert_int_eq(req.data, 7);
    snprintf(expected, sizeof(expected), "unknown TLSRequired value '%s'",
      c->value);
    ck_assert_str_eq(err.msg, expected);
  }
}
END_TEST

/* TLSOptions */

struct opt_case {
  const char *argv[4];       /* NULL-terminated */
  int rc;
  unsigned long opts;        /* added to the preset value when rc == 0 */
  const char *msg;           /* exact err when rc == -1 */
};

static const struct opt_case opt_cases[] = {
  /* Errors: names are case-sensitive, and one bad name spoils all. */
  { { "Bogus" }, -1, 0, "unknown TLSOption 'Bogus'" },
  { { "" }, -1, 0, "unknown TLSOption ''" },
  { { "nosessionreuserequired" }, -1, 0,
    "unknown TLSOption 'nosessionreuserequired'" },
  { { "DNSNameRequired" }, -1, 0, "unknown TLSOption 'DNSNameRequired'" },
  { { "StdEnvVars " }, -1, 0, "unknown TLSOption 'StdEnvVars '" },
  { { "AllowDotLogin", "Nope" }, -1, 0, "unknown TLSOption 'Nope'" },
  { { "+StdEnvVars" }, -1, 0, "unknown TLSOption '+StdEnvVars'" },

  { { "AllowClientRenegotiation" }, 0, FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION,
    NULL },
  { { "AllowClientRenegotiations" }, 0, FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION,
    NULL },
  { { "AllowDotLogin" }, 0, FTPS_OPT_ALLOW_DOT_LOGIN, NULL },
  { { "AllowPerUser" }, 0, FTPS_OPT_ALLOW_PER_USER, NULL },
  { { "AllowWeakDH" }, 0, FTPS_OPT_ALLOW_WEAK_DH, NULL },
  { { "AllowWeakSecurity" }, 0, FTPS_OPT_ALLOW_WEAK_SECURITY, NULL },
  { { "CommonNameRequired" }, 0, FTPS_OPT_COMMON_NAME_REQUIRED, NULL },
  { { "dNSNameRequired" }, 0, FTPS_OPT_DNS_NAME_REQUIRED, NULL },
  { { "iPAddressRequired" }, 0, FTPS_OPT_IP_ADDRESS_REQUIRED, NULL },
  { { "EnableDiags" }, 0, FTPS_OPT_ENABLE_DIAGS, NULL },
  { { "ExportCertData" }, 0, FTPS_OPT_EXPORT_CERT_DATA, NULL },
  { { "StdEnvVars" }, 0, FTPS_OPT_STD_ENV_VARS, NULL },
  { { "IgnoreSNI" }, 0, FTPS_OPT_IGNORE_SNI, NULL },
  { { "NoAutoECDH" }, 0, FTPS_OPT_NO_AUTO_ECDH, NULL },
  { { "NoEmptyFragments" }, 0, FTPS_OPT_NO_EMPTY_FRAGMENTS, NULL },
  { { "NoSessionReuseRequired" }, 0, FTPS_OPT_NO_SESSION_REUSE_REQUIRED,
    NULL },
  { { "UseImplicitSSL" }, 0, FTPS_OPT_USE_IMPLICIT_SSL, NULL },
  { { "NoCertRequest" }, 0, FTPS_OPT_NO_CERT_REQUEST, NULL },
  { { "AllowAnyALPN" }, 0, FTPS_OPT_ALLOW_ANY_ALPN, NULL },
  { { "StrictSNI" }, 0, FTPS_OPT_STRICT_SNI, NULL },
  { { "allowanyalpn" }, -1, 0, "unknown TLSOption 'allowanyalpn'" },
  { { "AllowAnyAlpn" }, -1, 0, "unknown TLSOption 'AllowAnyAlpn'" },
  { { "StrictSNI", "IgnoreSNI" }, 0, FTPS_OPT_STRICT_SNI|FTPS_OPT_IGNORE_SNI,
    NULL },
  { { "StdEnvVars", "ExportCertData", "EnableDiags" }, 0,
    FTPS_OPT_STD_ENV_VARS|FTPS_OPT_EXPORT_CERT_DATA|FTPS_OPT_ENABLE_DIAGS,
    NULL },
  { { "IgnoreSNI", "IgnoreSNI" }, 0, FTPS_OPT_IGNORE_SNI, NULL },
};

/* A bit outside every FTPS_OPT_*, preset to prove options are OR-ed in. */
#define OPT_PRESET 0x100000UL

START_TEST(test_options_null_args) {
  static const char *const argv[] = { "StdEnvVars", NULL };
  struct ftps_error err;
  unsigned long opts = OPT_PRESET;

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_options(1, argv, NULL, &err), -1);
  ck_assert_int_eq(errno, EINVAL);

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_options(1, NULL, &opts, &err), -1);
  ck_assert_int_eq(errno, EINVAL);

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_options(0, argv, &opts, &err), -1);
  ck_assert_int_eq(errno, EINVAL);

  errno = 0;
  ck_assert_int_eq(ftps_config_parse_options(2, argv, &opts, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_uint_eq(opts, OPT_PRESET);

  /* err may be NULL. */
  errno = 0;
  ck_assert_int_eq(ftps_config_parse_options(1, (const char *const[]) {
    "Bogus" }, &opts, NULL), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(ftps_config_parse_options(1, argv, &opts, NULL), 0);
  ck_assert_uint_eq(opts, OPT_PRESET|FTPS_OPT_STD_ENV_VARS);
}
END_TEST

START_TEST(test_options_table) {
  const struct opt_case *c = &opt_cases[_i];
  struct ftps_error err;
  unsigned long opts = OPT_PRESET;
  int rc;

  ftps_error_clear(&err);
  errno = 0;
  rc = ftps_config_parse_options(argv_count(c->argv), c->argv, &opts, &err);
  ck_assert_msg(rc == c->rc, "row %d '%s': rc %d, expected %d", _i,
    c->argv[0], rc, c->rc);

  if (c->rc == 0) {
    ck_assert_uint_eq(opts, OPT_PRESET|c->opts);

  } else {
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(opts, OPT_PRESET);
    ck_assert_str_eq(err.msg, c->msg);
  }
}
END_TEST

struct opt_name_case {
  unsigned long opt;
  const char *name;          /* NULL: no name */
};

static const struct opt_name_case opt_name_cases[] = {
  { 0, NULL },
  { OPT_PRESET, NULL },
  { FTPS_OPT_STD_ENV_VARS|FTPS_OPT_IGNORE_SNI, NULL },
  { ~0UL, NULL },
  { FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION, "AllowClientRenegotiations" },
  { FTPS_OPT_ALLOW_DOT_LOGIN, "AllowDotLogin" },
  { FTPS_OPT_ALLOW_PER_USER, "AllowPerUser" },
  { FTPS_OPT_ALLOW_WEAK_DH, "AllowWeakDH" },
  { FTPS_OPT_ALLOW_WEAK_SECURITY, "AllowWeakSecurity" },
  { FTPS_OPT_COMMON_NAME_REQUIRED, "CommonNameRequired" },
  { FTPS_OPT_DNS_NAME_REQUIRED, "dNSNameRequired" },
  { FTPS_OPT_IP_ADDRESS_REQUIRED, "iPAddressRequired" },
  { FTPS_OPT_ENABLE_DIAGS, "EnableDiags" },
  { FTPS_OPT_EXPORT_CERT_DATA, "ExportCertData" },
  { FTPS_OPT_STD_ENV_VARS, "StdEnvVars" },
  { FTPS_OPT_IGNORE_SNI, "IgnoreSNI" },
  { FTPS_OPT_NO_AUTO_ECDH, "NoAutoECDH" },
  { FTPS_OPT_NO_EMPTY_FRAGMENTS, "NoEmptyFragments" },
  { FTPS_OPT_NO_SESSION_REUSE_REQUIRED, "NoSessionReuseRequired" },
  { FTPS_OPT_USE_IMPLICIT_SSL, "UseImplicitSSL" },
  { FTPS_OPT_NO_CERT_REQUEST, "NoCertRequest" },
  { FTPS_OPT_ALLOW_ANY_ALPN, "AllowAnyALPN" },
  { FTPS_OPT_STRICT_SNI, "StrictSNI" },
};

START_TEST(test_option_name_table) {
  const struct opt_name_case *c = &opt_name_cases[_i];
  const char *name = ftps_config_option_name(c->opt);

  if (c->name == NULL) {
    ck_assert_ptr_null(name);

  } else {
    ck_assert_ptr_nonnull(name);
    ck_assert_str_eq(name, c->name);
  }
}
END_TEST

/* Each of the 19 bits has a name, and that name parses back to the bit. */
START_TEST(test_option_name_round_trip) {
  unsigned long bit = 1UL << _i, opts = 0;
  const char *name = ftps_config_option_name(bit);

  ck_assert_ptr_nonnull(name);
  ck_assert_int_eq(ftps_config_parse_options(1, &name, &opts, NULL), 0);
  ck_assert_uint_eq(opts, bit);
}
END_TEST

/* TLSRenegotiate */

struct rekey_case {
  const char *argv[9];       /* NULL-terminated */
  int rc;
  long ctrl_secs, data_kb;   /* when rc == 0 */
  int required;
  long timeout;
  const char *msg;           /* substring of err when rc == -1 */
};

static const struct rekey_case rekey_cases[] = {
  /* Errors. */
  { { NULL }, -1, 0, 0, 0, 0, "needs 'none'" },
  { { "ctrl" }, -1, 0, 0, 0, 0, "'ctrl' has no value" },
  { { "ctrl", "60", "data" }, -1, 0, 0, 0, 0, "'data' has no value" },
  { { "sometimes", "1" }, -1, 0, 0, 0, 0,
    "unknown TLSRenegotiate parameter 'sometimes'" },
  { { "ctrl", "0" }, -1, 0, 0, 0, 0, "ctrl '0': expected a positive number "
    "of seconds" },
  { { "ctrl", "-5" }, -1, 0, 0, 0, 0, "ctrl '-5'" },
  { { "ctrl", "+5" }, -1, 0, 0, 0, 0, "ctrl '+5'" },
  { { "ctrl", " 5" }, -1, 0, 0, 0, 0, "ctrl ' 5'" },
  { { "ctrl", "5s" }, -1, 0, 0, 0, 0, "ctrl '5s'" },
  { { "data", "" }, -1, 0, 0, 0, 0, "data '': expected a positive number of "
    "kilobytes" },
  { { "data", "99999999999999999999" }, -1, 0, 0, 0, 0, "data '9999" },
  { { "data", "9007199254740993" }, -1, 0, 0, 0, 0, "data '9007" },
  { { "timeout", "x" }, -1, 0, 0, 0, 0, "timeout 'x'" },
  { { "required", "maybe" }, -1, 0, 0, 0, 0, "required 'maybe': expected on "
    "or off" },
  { { "none", "ctrl", "5" }, -1, 0, 0, 0, 0, "'5' has no value" },
  { { "none", "none" }, -1, 0, 0, 0, 0, "unknown TLSRenegotiate parameter "
    "'none'" },
  /* Valid. */
  { { "none" }, 0, 0, 0, -1, 0, NULL },
  { { "NONE" }, 0, 0, 0, -1, 0, NULL },
  { { "required", "off" }, 0, 0, 0, 0, 0, NULL },
  { { "required", "on" }, 0, 0, 0, 1, 0, NULL },
  { { "ctrl", "3600" }, 0, 3600, 0, -1, 0, NULL },
  { { "data", "1048576" }, 0, 0, 1048576, -1, 0, NULL },
  { { "CTRL", "1", "Data", "64" }, 0, 1, 64, -1, 0, NULL },
  { { "ctrl", "14400", "data", "1073741824", "required", "off", "timeout",
      "30" }, 0, 14400, 1073741824L, 0, 30, NULL },
  { { "timeout", "30", "ctrl", "10", "ctrl", "20" }, 0, 20, 0, -1, 30, NULL },
};

START_TEST(test_renegotiate_table) {
  const struct rekey_case *c = &rekey_cases[_i];
  struct ftps_rekey r = { SENTINEL, SENTINEL, SENTINEL, SENTINEL };
  struct ftps_error err;
  int argc = 0, rc;

  while (c->argv[argc] != NULL) {
    argc++;
  }
  ftps_error_clear(&err);
  errno = 0;
  rc = ftps_config_parse_renegotiate(argc, c->argv, &r, &err);
  ck_assert_int_eq(rc, c->rc);

  if (rc < 0) {
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_msg(strstr(err.msg, c->msg) != NULL, "row %d: '%s' lacks '%s'",
      _i, err.msg, c->msg);
    ck_assert_int_eq(r.ctrl_secs, SENTINEL);
    ck_assert_int_eq(r.data_kb, SENTINEL);
    return;
  }

  ck_assert_int_eq(r.ctrl_secs, c->ctrl_secs);
  ck_assert_int_eq(r.data_kb, c->data_kb);
  ck_assert_int_eq(r.required, c->required);
  ck_assert_int_eq(r.timeout, c->timeout);
}
END_TEST

START_TEST(test_renegotiate_null_args) {
  struct ftps_rekey r;
  const char *none[] = { "none" };

  ck_assert_int_eq(ftps_config_parse_renegotiate(1, NULL, &r, NULL), -1);
  ck_assert_int_eq(ftps_config_parse_renegotiate(1, none, NULL, NULL), -1);
  ck_assert_int_eq(ftps_config_parse_renegotiate(0, none, &r, NULL), -1);
  ck_assert_int_eq(ftps_config_parse_renegotiate(1, none, &r, NULL), 0);
}
END_TEST

/* TLSVerifyDepth: digits only, 0 to 100.  "" was once taken as 0 (strtol
 * stops at once and leaves end on the NUL), and so were " 5", "+5", "-0". */
static const struct {
  const char *value;
  int rc, depth;
} depth_cases[] = {
  { "0", 0, 0 }, { "9", 0, 9 }, { "100", 0, 100 }, { "007", 0, 7 },
  { "101", -1, 0 }, { "", -1, 0 }, { " 5", -1, 0 }, { "+5", -1, 0 },
  { "-0", -1, 0 }, { "-1", -1, 0 }, { "5 ", -1, 0 }, { "0x10", -1, 0 },
  { "99999999999999999999999", -1, 0 }, { "1e2", -1, 0 }
};

START_TEST(test_depth_table) {
  struct ftps_error err;
  int depth = -7;

  ftps_error_clear(&err);
  ck_assert_int_eq(ftps_config_parse_depth(depth_cases[_i].value, &depth,
    &err), depth_cases[_i].rc);
  if (depth_cases[_i].rc == 0) {
    ck_assert_int_eq(depth, depth_cases[_i].depth);
  } else {
    ck_assert_int_eq(depth, -7);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(strstr(err.msg, "0 to 100") != NULL);
  }
  ck_assert_int_eq(ftps_config_parse_depth(NULL, &depth, NULL), -1);
  ck_assert_int_eq(ftps_config_parse_depth("1", NULL, NULL), -1);
}
END_TEST

Suite *config_suite(void) {
  Suite *s = suite_create("config");
  TCase *tc;

  tc = tcase_create("protocols");
  tcase_add_test(tc, test_protocols_null_args);
  tcase_add_test(tc, test_protocols_null_element);
  tcase_add_test(tc, test_protocols_null_err_and_ignored);
  tcase_add_loop_test(tc, test_protocols_table, 0, NELEMS(proto_cases));
  tcase_add_test(tc, test_protocols_str_null);
  tcase_add_loop_test(tc, test_protocols_str_table, 0,
    NELEMS(proto_str_cases));
  tcase_add_loop_test(tc, test_protocols_round_trip, 1, 16);
  suite_add_tcase(s, tc);

  tc = tcase_create("required");
  tcase_add_loop_test(tc, test_bool_table, 0, NELEMS(bool_cases));
  tcase_add_test(tc, test_required_null_args);
  tcase_add_loop_test(tc, test_required_table, 0, NELEMS(req_cases));
  suite_add_tcase(s, tc);

  tc = tcase_create("options");
  tcase_add_test(tc, test_options_null_args);
  tcase_add_loop_test(tc, test_options_table, 0, NELEMS(opt_cases));
  tcase_add_loop_test(tc, test_option_name_table, 0, NELEMS(opt_name_cases));
  tcase_add_loop_test(tc, test_option_name_round_trip, 0, 19);
  suite_add_tcase(s, tc);

  tc = tcase_create("renegotiate");
  tcase_add_test(tc, test_renegotiate_null_args);
  tcase_add_loop_test(tc, test_renegotiate_table, 0, NELEMS(rekey_cases));
  suite_add_tcase(s, tc);

  tc = tcase_create("depth");
  tcase_add_loop_test(tc, test_depth_table, 0, NELEMS(depth_cases));
  suite_add_tcase(s, tc);

  return s;
}

FTPS_UNIT_MAIN(config_suite)

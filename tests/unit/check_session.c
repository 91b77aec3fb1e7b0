/*
 * check_session.c - unit tests for mod_ftps/session.c (ftps/session.h): the
 * RFC 4217 state machine and the TLSRequired policy.
 *
 * Table-driven: each table row is one loop-test iteration, so a failure
 * names its row.
 */
#include <string.h>

#include "ftps/session.h"
#include "unit.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* TLSRequired rows, as ftps_config_parse_required gives them. */
static const struct ftps_required req_off = { 0, 0, FTPS_DATA_OPTIONAL };
static const struct ftps_required req_on = { 1, 1, FTPS_DATA_REQUIRED };
static const struct ftps_required req_ctrl = { 1, 1, FTPS_DATA_OPTIONAL };
static const struct ftps_required req_auth = { 0, 1, FTPS_DATA_OPTIONAL };
static const struct ftps_required req_data = { 0, 0, FTPS_DATA_REQUIRED };
static const struct ftps_required req_nodata = { 0, 0, FTPS_DATA_FORBIDDEN };

static const char *verdict_name(enum ftps_verdict v) {
  static const char *const names[] = {
    "OK", "AUTH_TLS", "AUTH_SSL", "AUTH_NO_ARG", "AUTH_UNKNOWN_MECH",
    "AUTH_SECOND", "AUTH_AFTER_LOGIN", "PBSZ_OK", "PBSZ_COUNTER",
    "PBSZ_SYNTAX", "PROT_CLEAR", "PROT_PRIVATE", "PROT_REFUSED",
    "PROT_UNSUPPORTED", "PROT_UNKNOWN", "PROT_SYNTAX", "PROT_NEED_PBSZ",
    "NEED_SECURE_CTRL", "NEED_CTRL_TLS", "NEED_DATA_TLS", "AUTH_AFTER_CCC",
    "CCC_OK", "CCC_REFUSED", "CCC_INSECURE", "SSCN_SERVER", "SSCN_CLIENT",
    "SSCN_SYNTAX"
  };

  if ((unsigned int) v < NELEMS(names)) {
    return names[v];
  }
  return "?";
}

static const char *str(const char *s) {
  return s != NULL ? s : "(null)";
}

/* authed - a session under req whose control channel went through AUTH */
static void authed(struct ftps_sess *sess, const struct ftps_required *req,
    const char *mech) {
  enum ftps_verdict v;

  ftps_sess_init(sess, req);
  v = ftps_sess_auth(sess, mech);
  ck_assert_msg(v == FTPS_AUTH_TLS || v == FTPS_AUTH_SSL,
    "AUTH %s: %s", mech, verdict_name(v));
  ftps_sess_auth_done(sess, v);
}

/* init */

START_TEST(test_init) {
  struct ftps_sess sess;

  memset(&sess, 0xA5, sizeof(sess));
  ftps_sess_init(&sess, &req_on);
  ck_assert_uint_eq(sess.flags, 0);
  ck_assert_uint_eq(sess.policy, 0);
  ck_assert_int_eq(sess.required.ctrl, 1);
  ck_assert_int_eq(sess.required.auth, 1);
  ck_assert_int_eq(sess.required.data, FTPS_DATA_REQUIRED);

  memset(&sess, 0xA5, sizeof(sess));
  ftps_sess_init(&sess, NULL);
  ck_assert_uint_eq(sess.flags, 0);
  ck_assert_int_eq(sess.required.ctrl, 0);
  ck_assert_int_eq(sess.required.auth, 0);
  ck_assert_int_eq(sess.required.data, FTPS_DATA_OPTIONAL);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
}
END_TEST

/* AUTH */

struct auth_case {
  const char *mech;
  enum ftps_verdict verdict;
};

static const struct auth_case auth_cases[] = {
  { "TLS", FTPS_AUTH_TLS },
  { "TLS-C", FTPS_AUTH_TLS },
  { "tls", FTPS_AUTH_TLS },
  { "Tls-c", FTPS_AUTH_TLS },
  { "SSL", FTPS_AUTH_SSL },
  { "TLS-P", FTPS_AUTH_SSL },
  { "ssl", FTPS_AUTH_SSL },
  { "tls-p", FTPS_AUTH_SSL },
  { NULL, FTPS_AUTH_NO_ARG },
  { "", FTPS_AUTH_NO_ARG },
  { "KERBEROS_V4", FTPS_AUTH_UNKNOWN_MECH },
  { "GSSAPI", FTPS_AUTH_UNKNOWN_MECH },
  { "TLS1", FTPS_AUTH_UNKNOWN_MECH },
  { "TLS ", FTPS_AUTH_UNKNOWN_MECH },
  { "TL", FTPS_AUTH_UNKNOWN_MECH },
  { "SSLv3", FTPS_AUTH_UNKNOWN_MECH },
  { "TLS-X", FTPS_AUTH_UNKNOWN_MECH },
};

START_TEST(test_auth_table) {
  const struct auth_case *c = &auth_cases[_i];
  struct ftps_sess sess;
  enum ftps_verdict v;

  ftps_sess_init(&sess, &req_on);
  v = ftps_sess_auth(&sess, c->mech);
  ck_assert_msg(v == c->verdict, "row %d AUTH %s: %s, expected %s", _i,
    str(c->mech), verdict_name(v), verdict_name(c->verdict));

  /* Judging changes nothing: only ftps_sess_auth_done does. */
  ck_assert_uint_eq(sess.flags, 0);
}
END_TEST

/* A second AUTH, whatever its mechanism, after either kind of first one. */
START_TEST(test_auth_second) {
  const struct auth_case *c = &auth_cases[_i];
  const char *firsts[] = { "TLS", "SSL" };
  size_t i;

  for (i = 0; i < NELEMS(firsts); i++) {
    struct ftps_sess sess;
    enum ftps_verdict v;

    authed(&sess, &req_off, firsts[i]);
    v = ftps_sess_auth(&sess, c->mech);
    if (c->verdict == FTPS_AUTH_NO_ARG) {
      /* A missing argument is a syntax error before anything else. */
      ck_assert_msg(v == FTPS_AUTH_NO_ARG, "AUTH %s after AUTH %s: %s",
        str(c->mech), firsts[i], verdict_name(v));
    } else {
      ck_assert_msg(v == FTPS_AUTH_SECOND, "AUTH %s after AUTH %s: %s",
        str(c->mech), firsts[i], verdict_name(v));
    }
  }
}
END_TEST

START_TEST(test_auth_after_login) {
  const struct auth_case *c = &auth_cases[_i];
  struct ftps_sess sess;
  enum ftps_verdict v;

  ftps_sess_init(&sess, &req_off);
  ftps_sess_set_logged_in(&sess);
  ck_assert_uint_eq(sess.flags, FTPS_SESS_FL_LOGGED_IN);

  v = ftps_sess_auth(&sess, c->mech);
  if (c->verdict == FTPS_AUTH_NO_ARG) {
    ck_assert_msg(v == FTPS_AUTH_NO_ARG, "AUTH %s after login: %s",
      str(c->mech), verdict_name(v));
  } else {
    ck_assert_msg(v == FTPS_AUTH_AFTER_LOGIN, "AUTH %s after login: %s",
      str(c->mech), verdict_name(v));
  }
}
END_TEST

/* AUTH done, per TLSRequired data setting */

struct auth_done_case {
  const char *mech;
  const struct ftps_required *req;
  unsigned int flags;     /* expected flags afterwards */
  int protected;          /* ftps_sess_data_protected */
};

static const struct auth_done_case auth_done_cases[] = {
  { "TLS", &req_off, FTPS_SESS_FL_CTRL_TLS, 0 },
  { "TLS-C", &req_on, FTPS_SESS_FL_CTRL_TLS, 0 },
  { "TLS", &req_nodata, FTPS_SESS_FL_CTRL_TLS, 0 },
  { "SSL", &req_off, FTPS_SESS_FL_CTRL_TLS|FTPS_SESS_FL_AUTH_SSL|
    FTPS_SESS_FL_PROT_P, 1 },
  { "TLS-P", &req_data, FTPS_SESS_FL_CTRL_TLS|FTPS_SESS_FL_AUTH_SSL|
    FTPS_SESS_FL_PROT_P, 1 },
  /* TLSRequired !data: AUTH SSL must not turn data protection on. */
  { "SSL", &req_nodata, FTPS_SESS_FL_CTRL_TLS, 0 },
  { "TLS-P", &req_nodata, FTPS_SESS_FL_CTRL_TLS, 0 },
};

START_TEST(test_auth_done_table) {
  const struct auth_done_case *c = &auth_done_cases[_i];
  struct ftps_sess sess;

  authed(&sess, c->req, c->mech);
  ck_assert_msg(sess.flags == c->flags, "row %d: flags %#x, expected %#x",
    _i, sess.flags, c->flags);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), c->protected);
}
END_TEST

/* AUTH SSL protects data without PROT P: TLSRequired data lets RETR run. */
START_TEST(test_auth_ssl_satisfies_data_required) {
  struct ftps_sess sess;

  authed(&sess, &req_on, "SSL");
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "RETR"), FTPS_OK);

  authed(&sess, &req_on, "TLS");
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "RETR"), FTPS_NEED_DATA_TLS);
}
END_TEST

/* PBSZ */

struct pbsz_case {
  const char *arg;
  enum ftps_verdict verdict;
};

static const struct pbsz_case pbsz_cases[] = {
  { "0", FTPS_PBSZ_OK },
  { "00", FTPS_PBSZ_OK },
  { "16", FTPS_PBSZ_COUNTER },
  { "1", FTPS_PBSZ_COUNTER },
  { "4294967296", FTPS_PBSZ_COUNTER },
  { "abc", FTPS_PBSZ_SYNTAX },
  { "", FTPS_PBSZ_SYNTAX },
  { NULL, FTPS_PBSZ_SYNTAX },
  { "-1", FTPS_PBSZ_SYNTAX },
  { "-0", FTPS_PBSZ_SYNTAX },
  { "+0", FTPS_PBSZ_SYNTAX },
  { "1x", FTPS_PBSZ_SYNTAX },
  { "0x10", FTPS_PBSZ_SYNTAX },
  { "0 ", FTPS_PBSZ_SYNTAX },
  { "1.5", FTPS_PBSZ_SYNTAX },
};

START_TEST(test_pbsz_table) {
  const struct pbsz_case *c = &pbsz_cases[_i];
  struct ftps_sess sess;
  enum ftps_verdict v;
  unsigned int before;

  authed(&sess, &req_off, "TLS");
  before = sess.flags;
  v = ftps_sess_pbsz(&sess, c->arg);
  ck_assert_msg(v == c->verdict, "row %d PBSZ '%s': %s, expected %s", _i,
    str(c->arg), verdict_name(v), verdict_name(c->verdict));

  if (c->verdict == FTPS_PBSZ_SYNTAX) {
    ck_assert_msg(sess.flags == before, "row %d: flags changed to %#x", _i,
      sess.flags);
  } else {
    ck_assert_msg(sess.flags == (before|FTPS_SESS_FL_PBSZ),
      "row %d: flags %#x lack PBSZ", _i, sess.flags);
  }
}
END_TEST

START_TEST(test_pbsz_before_auth) {
  const struct pbsz_case *c = &pbsz_cases[_i];
  struct ftps_sess sess;
  enum ftps_verdict v;

  ftps_sess_init(&sess, &req_off);
  v = ftps_sess_pbsz(&sess, c->arg);
  ck_assert_msg(v == FTPS_NEED_SECURE_CTRL, "row %d PBSZ '%s' before AUTH: "
    "%s", _i, str(c->arg), verdict_name(v));
  ck_assert_uint_eq(sess.flags, 0);
}
END_TEST

/* PROT */

struct prot_case {
  const char *arg;
  const struct ftps_required *req;
  const char *mech;          /* AUTH first, or NULL for none */
  unsigned int policy;
  const char *pbsz;          /* PBSZ argument sent first, or NULL */
  enum ftps_verdict verdict;
  int protected;             /* ftps_sess_data_protected afterwards */
};

#define PBSZ_FIRST FTPS_SESS_POLICY_PBSZ_BEFORE_PROT

static const struct prot_case prot_cases[] = {
  /* Before AUTH: whatever the level. */
  { "P", &req_off, NULL, 0, NULL, FTPS_NEED_SECURE_CTRL, 0 },
  { "C", &req_off, NULL, 0, NULL, FTPS_NEED_SECURE_CTRL, 0 },
  { NULL, &req_off, NULL, 0, NULL, FTPS_NEED_SECURE_CTRL, 0 },
  { "P", &req_on, NULL, 0, NULL, FTPS_NEED_SECURE_CTRL, 0 },

  /* After AUTH TLS, TLSRequired off. */
  { "C", &req_off, "TLS", 0, NULL, FTPS_PROT_CLEAR, 0 },
  { "P", &req_off, "TLS", 0, NULL, FTPS_PROT_PRIVATE, 1 },
  { "c", &req_off, "TLS", 0, NULL, FTPS_PROT_CLEAR, 0 },
  { "p", &req_off, "TLS", 0, NULL, FTPS_PROT_PRIVATE, 1 },
  { "S", &req_off, "TLS", 0, NULL, FTPS_PROT_UNSUPPORTED, 0 },
  { "E", &req_off, "TLS", 0, NULL, FTPS_PROT_UNSUPPORTED, 0 },
  { "s", &req_off, "TLS", 0, NULL, FTPS_PROT_UNSUPPORTED, 0 },
  { "e", &req_off, "TLS", 0, NULL, FTPS_PROT_UNSUPPORTED, 0 },
  { "X", &req_off, "TLS", 0, NULL, FTPS_PROT_UNKNOWN, 0 },
  { "PP", &req_off, "TLS", 0, NULL, FTPS_PROT_UNKNOWN, 0 },
  { "Private", &req_off, "TLS", 0, NULL, FTPS_PROT_UNKNOWN, 0 },
  { NULL, &req_off, "TLS", 0, NULL, FTPS_PROT_SYNTAX, 0 },
  { "", &req_off, "TLS", 0, NULL, FTPS_PROT_SYNTAX, 0 },

  /* After AUTH SSL: data already protected; PROT C turns it off. */
  { "C", &req_off, "SSL", 0, NULL, FTPS_PROT_CLEAR, 0 },
  { "P", &req_off, "SSL", 0, NULL, FTPS_PROT_PRIVATE, 1 },
  { "X", &req_off, "SSL", 0, NULL, FTPS_PROT_UNKNOWN, 1 },

  /* TLSRequired data (and on): PROT C refused, protection kept. */
  { "C", &req_data, "TLS", 0, NULL, FTPS_PROT_REFUSED, 0 },
  { "C", &req_on, "TLS", 0, NULL, FTPS_PROT_REFUSED, 0 },
  { "c", &req_on, "SSL", 0, NULL, FTPS_PROT_REFUSED, 1 },
  { "P", &req_data, "TLS", 0, NULL, FTPS_PROT_PRIVATE, 1 },
  { "P", &req_on, "TLS", 0, NULL, FTPS_PROT_PRIVATE, 1 },

  /* TLSRequired !data: PROT P refused, PROT C fine. */
  { "P", &req_nodata, "TLS", 0, NULL, FTPS_PROT_REFUSED, 0 },
  { "p", &req_nodata, "SSL", 0, NULL, FTPS_PROT_REFUSED, 0 },
  { "C", &req_nodata, "TLS", 0, NULL, FTPS_PROT_CLEAR, 0 },

  /* Without the policy, PROT needs no PBSZ (named policy in session.h). */
  { "P", &req_off, "TLS", 0, NULL, FTPS_PROT_PRIVATE, 1 },

  /* PBSZ_BEFORE_PROT: PROT without an accepted PBSZ. */
  { "P", &req_off, "TLS", PBSZ_FIRST, NULL, FTPS_PROT_NEED_PBSZ, 0 },
  { "C", &req_off, "TLS", PBSZ_FIRST, NULL, FTPS_PROT_NEED_PBSZ, 0 },
  { "P", &req_off, "TLS", PBSZ_FIRST, "abc", FTPS_PROT_NEED_PBSZ, 0 },
  { "P", &req_off, "TLS", PBSZ_FIRST, "", FTPS_PROT_NEED_PBSZ, 0 },
  { NULL, &req_off, "TLS", PBSZ_FIRST, NULL, FTPS_PROT_SYNTAX, 0 },
  { "P", &req_off, NULL, PBSZ_FIRST, NULL, FTPS_NEED_SECURE_CTRL, 0 },
  /* ... and with one, even a counter-proposed size. */
  { "P", &req_off, "TLS", PBSZ_FIRST, "0", FTPS_PROT_PRIVATE, 1 },
  { "P", &req_off, "TLS", PBSZ_FIRST, "16", FTPS_PROT_PRIVATE, 1 },
  { "C", &req_off, "TLS", PBSZ_FIRST, "0", FTPS_PROT_CLEAR, 0 },
  { "S", &req_off, "TLS", PBSZ_FIRST, "0", FTPS_PROT_UNSUPPORTED, 0 },
  { "P", &req_nodata, "TLS", PBSZ_FIRST, "0", FTPS_PROT_REFUSED, 0 },
};

START_TEST(test_prot_table) {
  const struct prot_case *c = &prot_cases[_i];
  struct ftps_sess sess;
  enum ftps_verdict v;

  if (c->mech != NULL) {
    authed(&sess, c->req, c->mech);
  } else {
    ftps_sess_init(&sess, c->req);
  }
  sess.policy = c->policy;
  if (c->pbsz != NULL) {
    (void) ftps_sess_pbsz(&sess, c->pbsz);
  }

  v = ftps_sess_prot(&sess, c->arg);
  ck_assert_msg(v == c->verdict, "row %d PROT '%s': %s, expected %s", _i,
    str(c->arg), verdict_name(v), verdict_name(c->verdict));
  ck_assert_msg(ftps_sess_data_protected(&sess) == c->protected,
    "row %d PROT '%s': data protected %d, expected %d", _i, str(c->arg),
    ftps_sess_data_protected(&sess), c->protected);
}
END_TEST

/* PROT P then PROT C then PROT P: the level follows the last command. */
START_TEST(test_prot_sequence) {
  struct ftps_sess sess;

  authed(&sess, &req_off, "TLS");
  ck_assert_int_eq(ftps_sess_prot(&sess, "P"), FTPS_PROT_PRIVATE);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  ck_assert_int_eq(ftps_sess_prot(&sess, "C"), FTPS_PROT_CLEAR);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
  ck_assert_int_eq(ftps_sess_prot(&sess, "S"), FTPS_PROT_UNSUPPORTED);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
  ck_assert_int_eq(ftps_sess_prot(&sess, "P"), FTPS_PROT_PRIVATE);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  ck_assert_int_eq(ftps_sess_prot(&sess, "E"), FTPS_PROT_UNSUPPORTED);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);

  /* After AUTH SSL, PROT C clears the AUTH SSL implication as well. */
  authed(&sess, &req_off, "SSL");
  ck_assert_int_eq(ftps_sess_prot(&sess, "C"), FTPS_PROT_CLEAR);
  ck_assert_uint_eq(sess.flags & (FTPS_SESS_FL_AUTH_SSL|FTPS_SESS_FL_PROT_P),
    0);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
}
END_TEST

/* ftps_sess_check_cmd: TLSRequired row x command x state */

static const char *const cmds[] = {
  "USER", "PASS", "ACCT", "PWD", "SYST", "FEAT", "AUTH", "HOST", "CLNT",
  "QUIT", "NOOP", "PBSZ", "PROT", "RETR", "STOR", "LIST", "NLST", "MLSD",
  "APPE", "STOU", "PASV"
};

enum cmd_state {
  ST_PLAIN,         /* before AUTH */
  ST_AUTH,          /* after AUTH TLS */
  ST_PROT_P,        /* after AUTH TLS and PROT P (refused under !data) */
  ST_AUTH_SSL       /* after AUTH SSL, no PROT */
};

static const char *const state_names[] = {
  "before AUTH", "after AUTH TLS", "after AUTH+PROT P", "after AUTH SSL"
};

struct cmd_case {
  const char *name;
  const struct ftps_required *req;
  enum cmd_state state;
  /* One letter per command of cmds[], in order:
   *   .  FTPS_OK   C  FTPS_NEED_CTRL_TLS   D  FTPS_NEED_DATA_TLS
   * USER PASS ACCT PWD SYST FEAT AUTH HOST CLNT QUIT NOOP PBSZ PROT
   * RETR STOR LIST NLST MLSD APPE STOU PASV */
  const char *expected;
};

static const struct cmd_case cmd_cases[] = {
  /*                                  UPAPSFAHCQNBT RSLNMAO V */
  { "off", &req_off, ST_PLAIN,       "............. ....... ." },
  { "off", &req_off, ST_AUTH,        "............. ....... ." },
  { "off", &req_off, ST_PROT_P,      "............. ....... ." },
  { "off", &req_off, ST_AUTH_SSL,    "............. ....... ." },

  { "on", &req_on, ST_PLAIN,         "CCCC......CCC CCCCCCC C" },
  { "on", &req_on, ST_AUTH,          "............. DDDDDDD ." },
  { "on", &req_on, ST_PROT_P,        "............. ....... ." },
  { "on", &req_on, ST_AUTH_SSL,      "............. ....... ." },

  { "ctrl", &req_ctrl, ST_PLAIN,     "CCCC......CCC CCCCCCC C" },
  { "ctrl", &req_ctrl, ST_AUTH,      "............. ....... ." },
  { "ctrl", &req_ctrl, ST_PROT_P,    "............. ....... ." },
  { "ctrl", &req_ctrl, ST_AUTH_SSL,  "............. ....... ." },

  { "auth", &req_auth, ST_PLAIN,     "CCC.......... ....... ." },
  { "auth", &req_auth, ST_AUTH,      "............. ....... ." },
  { "auth", &req_auth, ST_PROT_P,    "............. ....... ." },
  { "auth", &req_auth, ST_AUTH_SSL,  "............. ....... ." },

  { "data", &req_data, ST_PLAIN,     "............. DDDDDDD ." },
  { "data", &req_data, ST_AUTH,      "............. DDDDDDD ." },
  { "data", &req_data, ST_PROT_P,    "............. ....... ." },
  { "data", &req_data, ST_AUTH_SSL,  "............. ....... ." },

  { "!data", &req_nodata, ST_PLAIN,  "............. ....... ." },
  { "!data", &req_nodata, ST_AUTH,   "............. ....... ." },
  { "!data", &req_nodata, ST_PROT_P, "............. ....... ." },
  { "!data", &req_nodata, ST_AUTH_SSL, "............. ....... ." },
};

/* sess_in_state - a session under req brought to state */
static void sess_in_state(struct ftps_sess *sess,
    const struct ftps_required *req, enum cmd_state state) {
  ftps_sess_init(sess, req);

  switch (state) {
    case ST_PLAIN:
      break;

    case ST_AUTH:
      authed(sess, req, "TLS");
      break;

    case ST_PROT_P:
      authed(sess, req, "TLS");
      (void) ftps_sess_pbsz(sess, "0");
      (void) ftps_sess_prot(sess, "P");
      break;

    case ST_AUTH_SSL:
      authed(sess, req, "SSL");
      break;
  }
}

static enum ftps_verdict letter_verdict(char letter) {
  switch (letter) {
    case 'C': return FTPS_NEED_CTRL_TLS;
    case 'D': return FTPS_NEED_DATA_TLS;
    default:  return FTPS_OK;
  }
}

START_TEST(test_check_cmd_table) {
  const struct cmd_case *c = &cmd_cases[_i];
  const char *p = c->expected;
  struct ftps_sess sess;
  size_t i;

  sess_in_state(&sess, c->req, c->state);

  for (i = 0; i < NELEMS(cmds); i++) {
    enum ftps_verdict expected, v;

    while (*p == ' ') {
      p++;
    }
    ck_assert_msg(*p != '\0', "row %d: expected string too short", _i);
    expected = letter_verdict(*p++);

    v = ftps_sess_check_cmd(&sess, cmds[i]);
    ck_assert_msg(v == expected, "TLSRequired %s, %s, %s: %s, expected %s",
      c->name, state_names[c->state], cmds[i], verdict_name(v),
      verdict_name(expected));
  }
  ck_assert_msg(*p == '\0', "row %d: expected string too long", _i);
}
END_TEST

/* Command names are case-insensitive; a missing one is let through. */
START_TEST(test_check_cmd_case_and_null) {
  struct ftps_sess sess;

  sess_in_state(&sess, &req_on, ST_PLAIN);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "user"), FTPS_NEED_CTRL_TLS);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "Feat"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "auth"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, NULL), FTPS_OK);

  sess_in_state(&sess, &req_on, ST_AUTH);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "retr"), FTPS_NEED_DATA_TLS);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "Stor"), FTPS_NEED_DATA_TLS);

  sess_in_state(&sess, &req_auth, ST_PLAIN);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "pass"), FTPS_NEED_CTRL_TLS);
}
END_TEST

/* Logging in changes no verdict of check_cmd. */
START_TEST(test_check_cmd_logged_in) {
  struct ftps_sess sess;

  sess_in_state(&sess, &req_data, ST_PLAIN);
  ftps_sess_set_logged_in(&sess);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "RETR"), FTPS_NEED_DATA_TLS);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "PWD"), FTPS_OK);
}
END_TEST

/* ftps_sess_is_data_cmd */

struct data_cmd_case {
  const char *cmd;
  int is_data;
};

static const struct data_cmd_case data_cmd_cases[] = {
  { "APPE", 1 }, { "LIST", 1 }, { "MLSD", 1 }, { "NLST", 1 },
  { "RETR", 1 }, { "STOR", 1 }, { "STOU", 1 },
  { "retr", 1 }, { "Stor", 1 }, { "mlsd", 1 },
  { "PASV", 0 }, { "EPSV", 0 }, { "PORT", 0 }, { "EPRT", 0 },
  { "MLST", 0 }, { "STAT", 0 }, { "USER", 0 }, { "PROT", 0 },
  { "RET", 0 }, { "RETRX", 0 }, { "RETR ", 0 }, { "", 0 }, { NULL, 0 },
};

START_TEST(test_is_data_cmd_table) {
  const struct data_cmd_case *c = &data_cmd_cases[_i];

  ck_assert_msg(ftps_sess_is_data_cmd(c->cmd) == c->is_data,
    "row %d '%s': expected %d", _i, str(c->cmd), c->is_data);
}
END_TEST

/* ftps_sess_data_protected through a session's life */
START_TEST(test_data_protected) {
  struct ftps_sess sess;

  ftps_sess_init(&sess, &req_off);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
  ftps_sess_auth_done(&sess, FTPS_AUTH_TLS);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
  ck_assert_int_eq(ftps_sess_pbsz(&sess, "0"), FTPS_PBSZ_OK);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
  ck_assert_int_eq(ftps_sess_prot(&sess, "P"), FTPS_PROT_PRIVATE);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  ftps_sess_set_logged_in(&sess);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  ck_assert_int_eq(ftps_sess_prot(&sess, "C"), FTPS_PROT_CLEAR);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);

  /* The flag alone decides. */
  ftps_sess_init(&sess, &req_off);
  sess.flags = FTPS_SESS_FL_PROT_P;
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  sess.flags = (unsigned int) ~FTPS_SESS_FL_PROT_P;
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
}
END_TEST

/* A whole RFC 4217 login under TLSRequired on. */
START_TEST(test_rfc4217_session) {
  struct ftps_sess sess;
  enum ftps_verdict v;

  ftps_sess_init(&sess, &req_on);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "FEAT"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "USER"), FTPS_NEED_CTRL_TLS);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "AUTH"), FTPS_OK);
  v = ftps_sess_auth(&sess, "TLS");
  ck_assert_int_eq(v, FTPS_AUTH_TLS);
  ftps_sess_auth_done(&sess, v);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "USER"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "PASS"), FTPS_OK);
  ftps_sess_set_logged_in(&sess);
  ck_assert_int_eq(ftps_sess_auth(&sess, "TLS"), FTPS_AUTH_SECOND);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "LIST"), FTPS_NEED_DATA_TLS);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "PBSZ"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_pbsz(&sess, "0"), FTPS_PBSZ_OK);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "PROT"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_prot(&sess, "C"), FTPS_PROT_REFUSED);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "LIST"), FTPS_NEED_DATA_TLS);
  ck_assert_int_eq(ftps_sess_prot(&sess, "P"), FTPS_PROT_PRIVATE);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "LIST"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  ck_assert_uint_eq(sess.flags, FTPS_SESS_FL_CTRL_TLS|FTPS_SESS_FL_PBSZ|
    FTPS_SESS_FL_PROT_P|FTPS_SESS_FL_LOGGED_IN);
}
END_TEST

/* CCC (RFC 4217 section 6) */

/* Before AUTH there is nothing to clear, logged in or not. */
START_TEST(test_ccc_before_auth) {
  const struct ftps_required *reqs[] = {
    &req_off, &req_on, &req_ctrl, &req_auth, &req_data, &req_nodata
  };
  struct ftps_sess sess;
  size_t i;

  for (i = 0; i < NELEMS(reqs); i++) {
    ftps_sess_init(&sess, reqs[i]);
    ck_assert_msg(ftps_sess_ccc(&sess) == FTPS_CCC_INSECURE, "req %zu: %s",
      i, verdict_name(ftps_sess_ccc(&sess)));
    ck_assert_uint_eq(sess.flags, 0);

    ftps_sess_set_logged_in(&sess);
    ck_assert_int_eq(ftps_sess_ccc(&sess), FTPS_CCC_INSECURE);
    ck_assert_uint_eq(sess.flags, FTPS_SESS_FL_LOGGED_IN);
  }
}
END_TEST

/* TLSRequired with the control channel (on, ctrl): refused, nothing
 * changes, and refusing again changes nothing either. */
START_TEST(test_ccc_refused_when_ctrl_required) {
  const struct ftps_required *reqs[] = { &req_on, &req_ctrl };
  const char *mechs[] = { "TLS", "SSL" };
  size_t i, j;

  for (i = 0; i < NELEMS(reqs); i++) {
    for (j = 0; j < NELEMS(mechs); j++) {
      struct ftps_sess sess;
      unsigned int before;
      int protected;

      authed(&sess, reqs[i], mechs[j]);
      (void) ftps_sess_pbsz(&sess, "0");
      (void) ftps_sess_prot(&sess, "P");
      ftps_sess_set_logged_in(&sess);
      before = sess.flags;
      protected = ftps_sess_data_protected(&sess);

      ck_assert_msg(ftps_sess_ccc(&sess) == FTPS_CCC_REFUSED,
        "req %zu AUTH %s: %s", i, mechs[j],
        verdict_name(ftps_sess_ccc(&sess)));
      ck_assert_msg(sess.flags == before, "req %zu AUTH %s: flags %#x, "
        "were %#x", i, mechs[j], sess.flags, before);
      ck_assert_int_eq(ftps_sess_ccc(&sess), FTPS_CCC_REFUSED);
      ck_assert_uint_eq(sess.flags, before);
      ck_assert_int_eq(ftps_sess_data_protected(&sess), protected);
      /* the control channel is still protected: a second AUTH is the
       * usual 503, not the after-CCC 534 */
      ck_assert_int_eq(ftps_sess_auth(&sess, "TLS"), FTPS_AUTH_SECOND);
    }
  }
}
END_TEST

struct ccc_case {
  const struct ftps_required *req;
  const char *mech;
  const char *prot;         /* PROT sent before CCC, or NULL */
  int protected;            /* data protection before and after CCC */
};

static const struct ccc_case ccc_cases[] = {
  { &req_off, "TLS", "P", 1 },
  { &req_off, "TLS", NULL, 0 },
  { &req_off, "TLS", "C", 0 },
  { &req_off, "SSL", NULL, 1 },
  { &req_off, "SSL", "C", 0 },
  { &req_auth, "TLS", "P", 1 },
  { &req_auth, "TLS", NULL, 0 },
  { &req_data, "TLS", "P", 1 },      /* auth+data minus auth */
  { &req_data, "SSL", NULL, 1 },
  { &req_nodata, "TLS", NULL, 0 },
  { &req_nodata, "SSL", NULL, 0 },
};

START_TEST(test_ccc_table) {
  static const struct ftps_required req_auth_data = {
    0, 1, FTPS_DATA_REQUIRED
  };
  const struct ccc_case *c = &ccc_cases[_i];
  const struct ftps_required *req = c->req;
  struct ftps_sess sess;
  unsigned int before, after;
  enum ftps_verdict v;

  /* Run the auth+data variant for the data rows too. */
  int pass;
  for (pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      if (c->req != &req_data) {
        break;
      }
      req = &req_auth_data;
    }

    authed(&sess, req, c->mech);
    (void) ftps_sess_pbsz(&sess, "0");
    if (c->prot != NULL) {
      (void) ftps_sess_prot(&sess, c->prot);
    }
    ftps_sess_set_logged_in(&sess);
    ck_assert_msg(ftps_sess_data_protected(&sess) == c->protected,
      "row %d pass %d: data protected %d before CCC", _i, pass,
      ftps_sess_data_protected(&sess));
    before = sess.flags;

    v = ftps_sess_ccc(&sess);
    ck_assert_msg(v == FTPS_CCC_OK, "row %d pass %d CCC: %s", _i, pass,
      verdict_name(v));
    after = (before & ~FTPS_SESS_FL_CTRL_TLS) | FTPS_SESS_FL_CCC;
    ck_assert_msg(sess.flags == after, "row %d pass %d: flags %#x after CCC, "
      "expected %#x", _i, pass, sess.flags, after);
    ck_assert_msg(ftps_sess_data_protected(&sess) == c->protected,
      "row %d pass %d: data protection changed by CCC", _i, pass);

    /* Nothing more to clear. */
    v = ftps_sess_ccc(&sess);
    ck_assert_msg(v == FTPS_CCC_INSECURE, "row %d pass %d second CCC: %s",
      _i, pass, verdict_name(v));
    ck_assert_uint_eq(sess.flags, after);

    /* No way back to a protected control channel. */
    ck_assert_int_eq(ftps_sess_auth(&sess, "TLS"), FTPS_AUTH_AFTER_CCC);
    ck_assert_int_eq(ftps_sess_auth(&sess, "ssl"), FTPS_AUTH_AFTER_CCC);
    ck_assert_int_eq(ftps_sess_auth(&sess, "TLS-C"), FTPS_AUTH_AFTER_CCC);
    ck_assert_int_eq(ftps_sess_auth(&sess, NULL), FTPS_AUTH_NO_ARG);

    /* PBSZ and PROT need a protected control channel. */
    ck_assert_int_eq(ftps_sess_pbsz(&sess, "0"), FTPS_NEED_SECURE_CTRL);
    ck_assert_int_eq(ftps_sess_prot(&sess, "P"), FTPS_NEED_SECURE_CTRL);
    ck_assert_int_eq(ftps_sess_prot(&sess, "C"), FTPS_NEED_SECURE_CTRL);
    ck_assert_msg(sess.flags == after, "row %d pass %d: flags %#x after the "
      "refusals, expected %#x", _i, pass, sess.flags, after);
    ck_assert_int_eq(ftps_sess_data_protected(&sess), c->protected);

    /* Transfers go on under the data protection in force. */
    ck_assert_int_eq(ftps_sess_check_cmd(&sess, "PWD"), FTPS_OK);
    ck_assert_int_eq(ftps_sess_check_cmd(&sess, "RETR"),
      (req->data == FTPS_DATA_REQUIRED && !c->protected) ?
      FTPS_NEED_DATA_TLS : FTPS_OK);
    /* Credentials must not go in clear where TLSRequired says so. */
    ck_assert_int_eq(ftps_sess_check_cmd(&sess, "USER"),
      req->auth ? FTPS_NEED_CTRL_TLS : FTPS_OK);
  }
}
END_TEST

/* A whole session: AUTH, login, PROT P, CCC, then the after-CCC state. */
START_TEST(test_ccc_session) {
  static const struct ftps_required req_auth_data = {
    0, 1, FTPS_DATA_REQUIRED
  };
  struct ftps_sess sess;

  ftps_sess_init(&sess, &req_auth_data);
  ck_assert_int_eq(ftps_sess_ccc(&sess), FTPS_CCC_INSECURE);
  ftps_sess_auth_done(&sess, ftps_sess_auth(&sess, "TLS"));
  ck_assert_int_eq(ftps_sess_pbsz(&sess, "0"), FTPS_PBSZ_OK);
  ck_assert_int_eq(ftps_sess_prot(&sess, "P"), FTPS_PROT_PRIVATE);
  ftps_sess_set_logged_in(&sess);
  ck_assert_int_eq(ftps_sess_ccc(&sess), FTPS_CCC_OK);
  ck_assert_uint_eq(sess.flags, FTPS_SESS_FL_PBSZ|FTPS_SESS_FL_PROT_P|
    FTPS_SESS_FL_LOGGED_IN|FTPS_SESS_FL_CCC);
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 1);
  ck_assert_int_eq(ftps_sess_check_cmd(&sess, "LIST"), FTPS_OK);
  ck_assert_int_eq(ftps_sess_ccc(&sess), FTPS_CCC_INSECURE);
  ck_assert_int_eq(ftps_sess_auth(&sess, "TLS"), FTPS_AUTH_AFTER_CCC);
}
END_TEST

/* SSCN */

struct sscn_case {
  int on_before;            /* SSCN flag before */
  const char *arg;
  enum ftps_verdict verdict;
  int on_after;
};

static const struct sscn_case sscn_cases[] = {
  { 0, NULL, FTPS_SSCN_SERVER, 0 },
  { 1, NULL, FTPS_SSCN_CLIENT, 1 },
  { 0, "ON", FTPS_SSCN_CLIENT, 1 },
  { 0, "on", FTPS_SSCN_CLIENT, 1 },
  { 0, "On", FTPS_SSCN_CLIENT, 1 },
  { 1, "ON", FTPS_SSCN_CLIENT, 1 },
  { 1, "OFF", FTPS_SSCN_SERVER, 0 },
  { 1, "off", FTPS_SSCN_SERVER, 0 },
  { 0, "OFF", FTPS_SSCN_SERVER, 0 },
  { 0, "BOGUS", FTPS_SSCN_SYNTAX, 0 },
  { 1, "BOGUS", FTPS_SSCN_SYNTAX, 1 },
  { 0, "", FTPS_SSCN_SYNTAX, 0 },
  { 1, "", FTPS_SSCN_SYNTAX, 1 },
  { 0, "ONX", FTPS_SSCN_SYNTAX, 0 },
  { 0, " ON", FTPS_SSCN_SYNTAX, 0 },
  { 1, "OF", FTPS_SSCN_SYNTAX, 1 },
  { 1, "0", FTPS_SSCN_SYNTAX, 1 },
};

START_TEST(test_sscn_table) {
  const struct sscn_case *c = &sscn_cases[_i];
  const unsigned int others = FTPS_SESS_FL_CTRL_TLS|FTPS_SESS_FL_PBSZ|
    FTPS_SESS_FL_PROT_P|FTPS_SESS_FL_LOGGED_IN;
  struct ftps_sess sess;
  enum ftps_verdict v;
  size_t k;

  /* with and without the other flags set */
  for (k = 0; k < 2; k++) {
    unsigned int base = k ? others : 0;

    ftps_sess_init(&sess, &req_off);
    sess.flags = base | (c->on_before ? FTPS_SESS_FL_SSCN : 0);
    v = ftps_sess_sscn(&sess, c->arg);
    ck_assert_msg(v == c->verdict, "row %d SSCN %s: %s, expected %s", _i,
      str(c->arg), verdict_name(v), verdict_name(c->verdict));
    ck_assert_msg(sess.flags == (base |
      (c->on_after ? FTPS_SESS_FL_SSCN : 0)), "row %d SSCN %s: flags %#x",
      _i, str(c->arg), sess.flags);
  }
}
END_TEST

/* The method asked for afterwards is the one last set. */
START_TEST(test_sscn_sequence) {
  struct ftps_sess sess;

  authed(&sess, &req_on, "TLS");
  ck_assert_int_eq(ftps_sess_sscn(&sess, NULL), FTPS_SSCN_SERVER);
  ck_assert_int_eq(ftps_sess_sscn(&sess, "ON"), FTPS_SSCN_CLIENT);
  ck_assert_int_eq(ftps_sess_sscn(&sess, NULL), FTPS_SSCN_CLIENT);
  ck_assert_int_eq(ftps_sess_sscn(&sess, "BOGUS"), FTPS_SSCN_SYNTAX);
  ck_assert_int_eq(ftps_sess_sscn(&sess, NULL), FTPS_SSCN_CLIENT);
  ck_assert_int_eq(ftps_sess_sscn(&sess, "OFF"), FTPS_SSCN_SERVER);
  ck_assert_int_eq(ftps_sess_sscn(&sess, "BOGUS"), FTPS_SSCN_SYNTAX);
  ck_assert_int_eq(ftps_sess_sscn(&sess, NULL), FTPS_SSCN_SERVER);
  ck_assert_uint_eq(sess.flags, FTPS_SESS_FL_CTRL_TLS);
  /* SSCN does not touch data protection */
  ck_assert_int_eq(ftps_sess_data_protected(&sess), 0);
}
END_TEST

Suite *session_suite(void) {
  Suite *s = suite_create("session");
  TCase *tc;

  tc = tcase_create("auth");
  tcase_add_test(tc, test_init);
  tcase_add_loop_test(tc, test_auth_table, 0, NELEMS(auth_cases));
  tcase_add_loop_test(tc, test_auth_second, 0, NELEMS(auth_cases));
  tcase_add_loop_test(tc, test_auth_after_login, 0, NELEMS(auth_cases));
  tcase_add_loop_test(tc, test_auth_done_table, 0, NELEMS(auth_done_cases));
  tcase_add_test(tc, test_auth_ssl_satisfies_data_required);
  suite_add_tcase(s, tc);

  tc = tcase_create("pbsz_prot");
  tcase_add_loop_test(tc, test_pbsz_table, 0, NELEMS(pbsz_cases));
  tcase_add_loop_test(tc, test_pbsz_before_auth, 0, NELEMS(pbsz_cases));
  tcase_add_loop_test(tc, test_prot_table, 0, NELEMS(prot_cases));
  tcase_add_test(tc, test_prot_sequence);
  suite_add_tcase(s, tc);

  tc = tcase_create("required");
  tcase_add_loop_test(tc, test_check_cmd_table, 0, NELEMS(cmd_cases));
  tcase_add_test(tc, test_check_cmd_case_and_null);
  tcase_add_test(tc, test_check_cmd_logged_in);
  tcase_add_loop_test(tc, test_is_data_cmd_table, 0, NELEMS(data_cmd_cases));
  tcase_add_test(tc, test_data_protected);
  tcase_add_test(tc, test_rfc4217_session);
  suite_add_tcase(s, tc);

  tc = tcase_create("ccc_sscn");
  tcase_add_test(tc, test_ccc_before_auth);
  tcase_add_test(tc, test_ccc_refused_when_ctrl_required);
  tcase_add_loop_test(tc, test_ccc_table, 0, NELEMS(ccc_cases));
  tcase_add_test(tc, test_ccc_session);
  tcase_add_loop_test(tc, test_sscn_table, 0, NELEMS(sscn_cases));
  tcase_add_test(tc, test_sscn_sequence);
  suite_add_tcase(s, tc);

  return s;
}

FTPS_UNIT_MAIN(session_suite)

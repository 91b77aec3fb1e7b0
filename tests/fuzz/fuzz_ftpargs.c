/*
 * fuzz_ftpargs.c - the RFC 4217 commands and their arguments (AUTH, PBSZ,
 * PROT, SSCN, CCC) and the TLSRequired checks of every other command, over
 * the session state machine of mod_ftps/session.c.
 *
 * Input: one byte choosing the TLSRequired in force and the session
 * policies, then a command per line ("PBSZ 0", "AUTH TLS", "RETR x", ...),
 * cut into words as ProFTPD cuts a command line: the verdict functions get
 * the first word after the command, as the module glue passes it.  An
 * accepted AUTH counts as a handshake that succeeded; an accepted PASS as
 * a login.
 * Promises checked against a model of the RFC: every verdict is one the
 * command may give; PBSZ and PROT only after AUTH; PROT P never under
 * "!data", PROT C never under "data"; no data command unprotected under
 * "data"; no command but the pre-AUTH ones in clear under "ctrl"; a second
 * AUTH, an AUTH after CCC, an AUTH after a login (without AllowPerUser)
 * refused; CCC only on a protected channel that TLSRequired lets go.
 */
#include <ctype.h>
#include <strings.h>

#include "ftps/session.h"
#include "fuzz.h"

static const struct ftps_required requireds[] = {
  { 0, 0, FTPS_DATA_OPTIONAL }, { 1, 1, FTPS_DATA_REQUIRED },
  { 1, 1, FTPS_DATA_OPTIONAL }, { 0, 0, FTPS_DATA_REQUIRED },
  { 0, 0, FTPS_DATA_FORBIDDEN }, { 1, 1, FTPS_DATA_FORBIDDEN },
  { 0, 1, FTPS_DATA_OPTIONAL }, { 0, 1, FTPS_DATA_REQUIRED }
};

static int is_one_of(const char *cmd, const char *const *list) {
  for (; *list != NULL; list++) {
    if (strcasecmp(cmd, *list) == 0) {
      return 1;
    }
  }
  return 0;
}

static const char *const pre_auth[] = {
  "AUTH", "CLNT", "FEAT", "HOST", "QUIT", "SYST", NULL
};
static const char *const data_cmds[] = {
  "APPE", "LIST", "MLSD", "NLST", "RETR", "STOR", "STOU", NULL
};
static const char *const cred_cmds[] = { "ACCT", "PASS", "USER", NULL };

/* pbsz_model - the verdict RFC 4217 section 8 calls for, once protected */
static enum ftps_verdict pbsz_model(const char *arg) {
  const char *p;
  int zero = 1;

  if (arg == NULL || *arg == '\0') {
    return FTPS_PBSZ_SYNTAX;
  }
  for (p = arg; *p != '\0'; p++) {
    if (!isdigit((unsigned char) *p)) {
      return FTPS_PBSZ_SYNTAX;
    }
    if (*p != '0') {
      zero = 0;
    }
  }
  return zero ? FTPS_PBSZ_OK : FTPS_PBSZ_COUNTER;
}

static void do_auth(struct ftps_sess *s, const char *arg) {
  unsigned int before = s->flags;
  enum ftps_verdict v = ftps_sess_auth(s, arg);

  FUZZ_ASSERT(s->flags == before);
  if (arg == NULL) {
    FUZZ_ASSERT(v == FTPS_AUTH_NO_ARG);
    return;
  }
  if (before & FTPS_SESS_FL_CTRL_TLS) {
    FUZZ_ASSERT(v == FTPS_AUTH_SECOND);
    return;
  }
  if (before & FTPS_SESS_FL_CCC) {
    FUZZ_ASSERT(v == FTPS_AUTH_AFTER_CCC);
    return;
  }
  if ((before & FTPS_SESS_FL_LOGGED_IN) &&
      !(s->policy & FTPS_SESS_POLICY_PER_USER)) {
    FUZZ_ASSERT(v == FTPS_AUTH_AFTER_LOGIN);
    return;
  }
  if (strcasecmp(arg, "TLS") == 0 || strcasecmp(arg, "TLS-C") == 0) {
    FUZZ_ASSERT(v == FTPS_AUTH_TLS);
  } else if (strcasecmp(arg, "SSL") == 0 || strcasecmp(arg, "TLS-P") == 0) {
    FUZZ_ASSERT(v == FTPS_AUTH_SSL);
  } else {
    FUZZ_ASSERT(v == FTPS_AUTH_UNKNOWN_MECH);
    return;
  }

  ftps_sess_auth_done(s, v);
  FUZZ_ASSERT(s->flags & FTPS_SESS_FL_CTRL_TLS);
  FUZZ_ASSERT(ftps_sess_data_protected(s) ==
    (v == FTPS_AUTH_SSL && s->required.data != FTPS_DATA_FORBIDDEN ? 1 :
     (before & FTPS_SESS_FL_PROT_P) ? 1 : 0));
}

static void do_prot(struct ftps_sess *s, const char *arg) {
  int was = ftps_sess_data_protected(s);
  enum ftps_verdict v = ftps_sess_prot(s, arg);
  int now = ftps_sess_data_protected(s);

  if (!(s->flags & FTPS_SESS_FL_CTRL_TLS)) {
    FUZZ_ASSERT(v == FTPS_NEED_SECURE_CTRL && now == was);
    return;
  }
  switch (v) {
    case FTPS_PROT_PRIVATE:
      FUZZ_ASSERT(strcasecmp(arg, "P") == 0 && now == 1);
      FUZZ_ASSERT(s->required.data != FTPS_DATA_FORBIDDEN);
      break;
    case FTPS_PROT_CLEAR:
      FUZZ_ASSERT(strcasecmp(arg, "C") == 0 && now == 0);
      FUZZ_ASSERT(s->required.data != FTPS_DATA_REQUIRED);
      break;
    case FTPS_PROT_REFUSED:
      FUZZ_ASSERT(now == was);
      FUZZ_ASSERT((strcasecmp(arg, "P") == 0 &&
        s->required.data == FTPS_DATA_FORBIDDEN) ||
        (strcasecmp(arg, "C") == 0 &&
        s->required.data == FTPS_DATA_REQUIRED));
      break;
    case FTPS_PROT_UNSUPPORTED:
      FUZZ_ASSERT(strcasecmp(arg, "S") == 0 || strcasecmp(arg, "E") == 0);
      FUZZ_ASSERT(now == was);
      break;
    case FTPS_PROT_SYNTAX:
      FUZZ_ASSERT(arg == NULL || *arg == '\0');
      break;
    case FTPS_PROT_NEED_PBSZ:
      FUZZ_ASSERT((s->policy & FTPS_SESS_POLICY_PBSZ_BEFORE_PROT) &&
        !(s->flags & FTPS_SESS_FL_PBSZ) && now == was);
      break;
    case FTPS_PROT_UNKNOWN:
      FUZZ_ASSERT(now == was);
      break;
    default:
      FUZZ_ASSERT(!"PROT gave a verdict of another command");
  }
}

static void do_pbsz(struct ftps_sess *s, const char *arg) {
  enum ftps_verdict v = ftps_sess_pbsz(s, arg);

  if (!(s->flags & FTPS_SESS_FL_CTRL_TLS)) {
    FUZZ_ASSERT(v == FTPS_NEED_SECURE_CTRL);
    return;
  }
  FUZZ_ASSERT(v == pbsz_model(arg));
  if (v != FTPS_PBSZ_SYNTAX) {
    FUZZ_ASSERT(s->flags & FTPS_SESS_FL_PBSZ);
  }
}

static void do_ccc(struct ftps_sess *s) {
  unsigned int before = s->flags;
  enum ftps_verdict v = ftps_sess_ccc(s);

  if (!(before & FTPS_SESS_FL_CTRL_TLS)) {
    FUZZ_ASSERT(v == FTPS_CCC_INSECURE && s->flags == before);
  } else if (s->required.ctrl) {
    FUZZ_ASSERT(v == FTPS_CCC_REFUSED && s->flags == before);
  } else {
    FUZZ_ASSERT(v == FTPS_CCC_OK);
    FUZZ_ASSERT(!(s->flags & FTPS_SESS_FL_CTRL_TLS) &&
      (s->flags & FTPS_SESS_FL_CCC));
    /* Data protection stays as PROT set it. */
    FUZZ_ASSERT((s->flags & FTPS_SESS_FL_PROT_P) ==
      (before & FTPS_SESS_FL_PROT_P));
  }
}

static void do_sscn(struct ftps_sess *s, const char *arg) {
  unsigned int before = s->flags & FTPS_SESS_FL_SSCN;
  enum ftps_verdict v = ftps_sess_sscn(s, arg);
  unsigned int now = s->flags & FTPS_SESS_FL_SSCN;

  if (arg != NULL && strcasecmp(arg, "ON") == 0) {
    FUZZ_ASSERT(v == FTPS_SSCN_CLIENT && now);
  } else if (arg != NULL && strcasecmp(arg, "OFF") == 0) {
    FUZZ_ASSERT(v == FTPS_SSCN_SERVER && !now);
  } else if (arg != NULL) {
    FUZZ_ASSERT(v == FTPS_SSCN_SYNTAX && now == before);
  } else {
    FUZZ_ASSERT(v == (before ? FTPS_SSCN_CLIENT : FTPS_SSCN_SERVER));
  }
}

/* do_other - any other command: the TLSRequired check */
static void do_other(struct ftps_sess *s, const char *cmd) {
  enum ftps_verdict v = ftps_sess_check_cmd(s, cmd);
  int clear = !(s->flags & FTPS_SESS_FL_CTRL_TLS);
  int judged = !(s->policy & FTPS_SESS_POLICY_PER_USER) ||
    (s->flags & FTPS_SESS_FL_LOGGED_IN);

  FUZZ_ASSERT(v == FTPS_OK || v == FTPS_NEED_CTRL_TLS ||
    v == FTPS_NEED_DATA_TLS);
  FUZZ_ASSERT(ftps_sess_is_data_cmd(cmd) == is_one_of(cmd, data_cmds));
  if (clear && judged && s->required.ctrl && !is_one_of(cmd, pre_auth)) {
    FUZZ_ASSERT(v == FTPS_NEED_CTRL_TLS);
    return;
  }
  if (clear && judged && s->required.auth && is_one_of(cmd, cred_cmds)) {
    FUZZ_ASSERT(v == FTPS_NEED_CTRL_TLS);
    return;
  }
  if (is_one_of(cmd, data_cmds) && s->required.data == FTPS_DATA_REQUIRED &&
      !ftps_sess_data_protected(s)) {
    FUZZ_ASSERT(v == FTPS_NEED_DATA_TLS);
    return;
  }
  FUZZ_ASSERT(v == FTPS_OK);

  if (strcasecmp(cmd, "PASS") == 0) {
    ftps_sess_set_logged_in(s);
    if (s->policy & FTPS_SESS_POLICY_PER_USER) {
      FUZZ_ASSERT(ftps_sess_login_allowed(s) ==
        (!clear || !(s->required.ctrl || s->required.auth)));
    }
  }
}

/* run_line - one command line, cut into words */
static void run_line(struct ftps_sess *s, const uint8_t *line, size_t len) {
  struct fuzz_args a;
  const char *cmd, *arg;

  if (fuzz_args_split(&a, line, len) < 0 || a.argc == 0) {
    fuzz_args_free(&a);
    return;
  }
  cmd = a.argv[0];
  arg = a.argc > 1 ? a.argv[1] : NULL;

  if (strcasecmp(cmd, "AUTH") == 0) {
    do_auth(s, arg);
  } else if (strcasecmp(cmd, "PBSZ") == 0) {
    do_pbsz(s, arg);
  } else if (strcasecmp(cmd, "PROT") == 0) {
    do_prot(s, arg);
  } else if (strcasecmp(cmd, "CCC") == 0) {
    do_ccc(s);
  } else if (strcasecmp(cmd, "SSCN") == 0) {
    /* The glue answers three or more words itself (504). */
    if (a.argc <= 2) {
      do_sscn(s, arg);
    }
  } else {
    do_other(s, cmd);
  }
  fuzz_args_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ftps_sess s;
  size_t i, start;

  if (size < 1) {
    return 0;
  }
  ftps_sess_init(&s, &requireds[data[0] & 7]);
  s.policy = (data[0] >> 3) & (FTPS_SESS_POLICY_PBSZ_BEFORE_PROT|
    FTPS_SESS_POLICY_PER_USER);

  for (i = start = 1; i <= size; i++) {
    if (i == size || data[i] == '\n') {
      run_line(&s, data + start, i - start);
      start = i + 1;
    }
  }
  return 0;
}

/*
 * session.c - RFC 4217 session state and TLSRequired policy (ftps/session.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftps/session.h"

/* Commands allowed before AUTH even when the control channel must be
 * protected: what a client needs to discover and start TLS, or to leave. */
static const char *const pre_auth_cmds[] = {
  "AUTH", "CLNT", "FEAT", "HOST", "QUIT", "SYST", NULL
};

/* Commands that open a data connection. */
static const char *const data_cmds[] = {
  "APPE", "LIST", "MLSD", "NLST", "RETR", "STOR", "STOU", NULL
};

/* Commands that carry credentials. */
static const char *const auth_cmds[] = {
  "ACCT", "PASS", "USER", NULL
};

/* in_list - 1 if cmd is one of list (case-insensitive) */
static int in_list(const char *const *list, const char *cmd) {
  size_t i;

  if (cmd == NULL) {
    return 0;
  }

  for (i = 0; list[i] != NULL; i++) {
    if (strcasecmp(list[i], cmd) == 0) {
      return 1;
    }
  }

  return 0;
}

void ftps_sess_init(struct ftps_sess *sess, const struct ftps_required *req) {
  memset(sess, 0, sizeof(*sess));
  if (req != NULL) {
    sess->required = *req;
  }
}

enum ftps_verdict ftps_sess_auth(const struct ftps_sess *sess,
    const char *mech) {
  if (mech == NULL || *mech == '\0') {
    return FTPS_AUTH_NO_ARG;
  }

  /* RFC 2228: a second security exchange on the same connection is not
   * something we support; 503 as mod_tls answers. */
  if (sess->flags & FTPS_SESS_FL_CTRL_TLS) {
    return FTPS_AUTH_SECOND;
  }

  /* After CCC the client chose a clear control channel: going back and
   * forth between clear and protected is not something to negotiate. */
  if (sess->flags & FTPS_SESS_FL_CCC) {
    return FTPS_AUTH_AFTER_CCC;
  }

  /* Upgrading after the password went in clear protects nothing already
   * sent and lets an attacker splice sessions (proftpd#1533). */
  if ((sess->flags & FTPS_SESS_FL_LOGGED_IN) &&
      !(sess->policy & FTPS_SESS_POLICY_PER_USER)) {
    return FTPS_AUTH_AFTER_LOGIN;
  }

  /* RFC 4217 section 4: TLS (and the historical TLS-C) protect the control
   * channel only; SSL and TLS-P are the draft names that also protect the
   * data channel. */
  if (strcasecmp(mech, "TLS") == 0 ||
      strcasecmp(mech, "TLS-C") == 0) {
    return FTPS_AUTH_TLS;
  }

  if (strcasecmp(mech, "SSL") == 0 ||
      strcasecmp(mech, "TLS-P") == 0) {
    return FTPS_AUTH_SSL;
  }

  return FTPS_AUTH_UNKNOWN_MECH;
}

void ftps_sess_auth_done(struct ftps_sess *sess, enum ftps_verdict verdict) {
  sess->flags |= FTPS_SESS_FL_CTRL_TLS;

  if (verdict == FTPS_AUTH_SSL &&
      sess->required.data != FTPS_DATA_FORBIDDEN) {
    sess->flags |= (FTPS_SESS_FL_AUTH_SSL|FTPS_SESS_FL_PROT_P);
  }
}

enum ftps_verdict ftps_sess_pbsz(struct ftps_sess *sess, const char *arg) {
  char *end = NULL;
  unsigned long long size;

  /* RFC 4217 section 8: PBSZ only makes sense once TLS is up. */
  if (!(sess->flags & FTPS_SESS_FL_CTRL_TLS)) {
    return FTPS_NEED_SECURE_CTRL;
  }

  /* Digits only: strtoull would skip blanks and wrap negative numbers. */
  if (arg == NULL || !isdigit((unsigned char) *arg)) {
    return FTPS_PBSZ_SYNTAX;
  }

  size = strtoull(arg, &end, 10);
  if (end == NULL || *end != '\0') {
    return FTPS_PBSZ_SYNTAX;
  }

  sess->flags |= FTPS_SESS_FL_PBSZ;

  /* TLS does its own framing: the only buffer size is 0, and RFC 2228
   * lets the server answer any other value with "PBSZ=0". */
  return size == 0 ? FTPS_PBSZ_OK : FTPS_PBSZ_COUNTER;
}

enum ftps_verdict ftps_sess_prot(struct ftps_sess *sess, const char *arg) {
  if (!(sess->flags & FTPS_SESS_FL_CTRL_TLS)) {
    return FTPS_NEED_SECURE_CTRL;
  }

  if (arg == NULL || *arg == '\0') {
    return FTPS_PROT_SYNTAX;
  }

  if ((sess->policy & FTPS_SESS_POLICY_PBSZ_BEFORE_PROT) &&
      !(sess->flags & FTPS_SESS_FL_PBSZ)) {
    return FTPS_PROT_NEED_PBSZ;
  }

  if (strcasecmp(arg, "C") == 0) {
    if (sess->required.data == FTPS_DATA_REQUIRED) {
      return FTPS_PROT_REFUSED;
    }

    sess->flags &= ~(FTPS_SESS_FL_PROT_P|FTPS_SESS_FL_AUTH_SSL);
    return FTPS_PROT_CLEAR;
  }

  if (strcasecmp(arg, "P") == 0) {
    if (sess->required.data == FTPS_DATA_FORBIDDEN) {
      return FTPS_PROT_REFUSED;
    }

    sess->flags |= FTPS_SESS_FL_PROT_P;
    return FTPS_PROT_PRIVATE;
  }

  /* RFC 4217 section 9: TLS offers no integrity-only (S) or confidential
   * without integrity (E) levels. */
  if (strcasecmp(arg, "S") == 0 ||
      strcasecmp(arg, "E") == 0) {
    return FTPS_PROT_UNSUPPORTED;
  }

  return FTPS_PROT_UNKNOWN;
}

int ftps_sess_is_data_cmd(const char *cmd) {
  return in_list(data_cmds, cmd);
}

enum ftps_verdict ftps_sess_check_cmd(const struct ftps_sess *sess,
    const char *cmd) {
  if (cmd == NULL) {
    return FTPS_OK;
  }

  if (!(sess->flags & FTPS_SESS_FL_CTRL_TLS) &&
      (!(sess->policy & FTPS_SESS_POLICY_PER_USER) ||
       (sess->flags & FTPS_SESS_FL_LOGGED_IN))) {
    if (sess->required.ctrl &&
        !in_list(pre_auth_cmds, cmd)) {
      return FTPS_NEED_CTRL_TLS;
    }

    if (sess->required.auth &&
        in_list(auth_cmds, cmd)) {
      return FTPS_NEED_CTRL_TLS;
    }
  }

  if (sess->required.data == FTPS_DATA_REQUIRED &&
      !(sess->flags & FTPS_SESS_FL_PROT_P) &&
      in_list(data_cmds, cmd)) {
    return FTPS_NEED_DATA_TLS;
  }

  return FTPS_OK;
}

int ftps_sess_data_protected(const struct ftps_sess *sess) {
  return (sess->flags & FTPS_SESS_FL_PROT_P) ? 1 : 0;
}

enum ftps_verdict ftps_sess_ccc(struct ftps_sess *sess) {
  if (!(sess->flags & FTPS_SESS_FL_CTRL_TLS)) {
    return FTPS_CCC_INSECURE;
  }

  if (sess->required.ctrl) {
    return FTPS_CCC_REFUSED;
  }

  sess->flags &= ~FTPS_SESS_FL_CTRL_TLS;
  sess->flags |= FTPS_SESS_FL_CCC;
  return FTPS_CCC_OK;
}

enum ftps_verdict ftps_sess_sscn(struct ftps_sess *sess, const char *arg) {
  if (arg != NULL) {
    if (strcasecmp(arg, "ON") == 0) {
      sess->flags |= FTPS_SESS_FL_SSCN;

    } else if (strcasecmp(arg, "OFF") == 0) {
      sess->flags &= ~FTPS_SESS_FL_SSCN;

    } else {
      return FTPS_SSCN_SYNTAX;
    }
  }

  return (sess->flags & FTPS_SESS_FL_SSCN) ? FTPS_SSCN_CLIENT :
    FTPS_SSCN_SERVER;
}

void ftps_sess_set_logged_in(struct ftps_sess *sess) {
  sess->flags |= FTPS_SESS_FL_LOGGED_IN;
}

int ftps_sess_login_allowed(const struct ftps_sess *sess) {
  if (sess->flags & FTPS_SESS_FL_CTRL_TLS) {
    return 1;
  }
  return !(sess->required.ctrl || sess->required.auth);
}

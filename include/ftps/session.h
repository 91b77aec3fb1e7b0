/*
 * ftps/session.h - the RFC 4217 state of one FTP session, and the policy
 * decisions made on it.
 *
 * Each function takes the session and a command argument and returns a
 * verdict; the module glue turns verdicts into FTP replies.  No ProFTPD, no
 * OpenSSL: the whole protocol state machine is unit-tested on its own.
 */
#ifndef FTPS_SESSION_H
#define FTPS_SESSION_H

#include "ftps/config.h"

#define FTPS_SESS_FL_CTRL_TLS   0x0001U  /* AUTH done, control channel in TLS */
#define FTPS_SESS_FL_PBSZ       0x0002U  /* PBSZ accepted */
#define FTPS_SESS_FL_PROT_P     0x0004U  /* data channel protected */
#define FTPS_SESS_FL_AUTH_SSL   0x0008U  /* AUTH SSL/TLS-P: PROT P implied */
#define FTPS_SESS_FL_LOGGED_IN  0x0010U  /* USER/PASS accepted */
#define FTPS_SESS_FL_CCC        0x0020U  /* CCC: control channel back in clear */
#define FTPS_SESS_FL_SSCN       0x0040U  /* SSCN ON: we are the TLS client on
                                            data connections (FXP) */

/* A named policy, not an accident: RFC 4217 section 9 says PROT must follow
 * PBSZ, but clients exist that send PROT P alone; mod_tls and vsftpd accept
 * it, and so do we.  Set in ftps_sess.policy to insist on PBSZ first. */
#define FTPS_SESS_POLICY_PBSZ_BEFORE_PROT  0x0001U

/* TLSOptions AllowPerUser: TLSRequired's control and authentication rules
 * wait until the user is known (they may differ per user, via <IfUser> or
 * <Anonymous>), and AUTH is accepted after login. */
#define FTPS_SESS_POLICY_PER_USER          0x0002U

struct ftps_sess {
  unsigned int flags;             /* FTPS_SESS_FL_* */
  unsigned int policy;            /* FTPS_SESS_POLICY_* */
  struct ftps_required required;  /* TLSRequired in force */
};

enum ftps_verdict {
  FTPS_OK = 0,                /* let the command proceed */

  FTPS_AUTH_TLS,              /* 234, handshake; data channel stays clear */
  FTPS_AUTH_SSL,              /* 234, handshake; data channel protected */
  FTPS_AUTH_NO_ARG,           /* 504 AUTH requires at least one argument */
  FTPS_AUTH_UNKNOWN_MECH,     /* 504 AUTH <mech> not supported */
  FTPS_AUTH_SECOND,           /* 503 Unwilling to accept second AUTH */
  FTPS_AUTH_AFTER_LOGIN,      /* 534 Unwilling to accept security parameters */

  FTPS_PBSZ_OK,               /* 200 PBSZ 0 successful */
  FTPS_PBSZ_COUNTER,          /* 200 PBSZ=0 successful (counter-proposal) */
  FTPS_PBSZ_SYNTAX,           /* 501 bad or missing size */

  FTPS_PROT_CLEAR,            /* 200 Protection set to Clear */
  FTPS_PROT_PRIVATE,          /* 200 Protection set to Private */
  FTPS_PROT_REFUSED,          /* 534 Unwilling to accept security parameters */
  FTPS_PROT_UNSUPPORTED,      /* 536 PROT S/E unsupported */
  FTPS_PROT_UNKNOWN,          /* 504 PROT <x> unsupported */
  FTPS_PROT_SYNTAX,           /* 501 missing level */
  FTPS_PROT_NEED_PBSZ,        /* 503 PBSZ first (only under the policy) */

  FTPS_NEED_SECURE_CTRL,      /* 503 <cmd> not allowed on insecure control
                                 connection (PBSZ/PROT before AUTH) */
  FTPS_NEED_CTRL_TLS,         /* 550 SSL/TLS required on the control channel */
  FTPS_NEED_DATA_TLS,         /* 522 SSL/TLS required on the data channel */

  FTPS_AUTH_AFTER_CCC,        /* 534 Unwilling to accept security parameters */
  FTPS_CCC_OK,                /* 200 Clearing control channel protection */
  FTPS_CCC_REFUSED,           /* 534 Unwilling to accept security parameters */
  FTPS_CCC_INSECURE,          /* 533 CCC not allowed on insecure control
                                 connection */
  FTPS_SSCN_SERVER,           /* 200 SSCN:SERVER METHOD */
  FTPS_SSCN_CLIENT,           /* 200 SSCN:CLIENT METHOD */
  FTPS_SSCN_SYNTAX            /* 501 SSCN: Invalid argument */
};

/* ftps_sess_init - a fresh session under the given TLSRequired */
void ftps_sess_init(struct ftps_sess *sess, const struct ftps_required *req);

/* ftps_sess_auth - judge "AUTH mech" (mech may be NULL).  TLS and TLS-C give
 * FTPS_AUTH_TLS, SSL and TLS-P give FTPS_AUTH_SSL (case-insensitive).  Does
 * not change the state: call ftps_sess_auth_done after the handshake. */
enum ftps_verdict ftps_sess_auth(const struct ftps_sess *sess,
  const char *mech);

/* ftps_sess_auth_done - the control handshake for verdict (FTPS_AUTH_TLS or
 * FTPS_AUTH_SSL) succeeded: the control channel is protected, and after AUTH
 * SSL the data channel too (unless TLSRequired forbids data protection). */
void ftps_sess_auth_done(struct ftps_sess *sess, enum ftps_verdict verdict);

/* ftps_sess_pbsz - judge and apply "PBSZ arg" (RFC 4217 section 8: TLS
 * needs a buffer size of 0; any other size is answered with PBSZ=0). */
enum ftps_verdict ftps_sess_pbsz(struct ftps_sess *sess, const char *arg);

/* ftps_sess_prot - judge and apply "PROT level" (RFC 4217 section 9). */
enum ftps_verdict ftps_sess_prot(struct ftps_sess *sess, const char *arg);

/* ftps_sess_check_cmd - may the command named cmd (e.g. "USER", "RETR") run
 * now under TLSRequired?  AUTH, PBSZ, PROT themselves are judged by their
 * own functions and get FTPS_OK here unless the control channel is required
 * (then PBSZ/PROT before AUTH get FTPS_NEED_CTRL_TLS, as with mod_tls). */
enum ftps_verdict ftps_sess_check_cmd(const struct ftps_sess *sess,
  const char *cmd);

/* ftps_sess_is_data_cmd - 1 for the commands that open a data connection
 * (APPE LIST MLSD NLST RETR STOR STOU), else 0 */
int ftps_sess_is_data_cmd(const char *cmd);

/* ftps_sess_data_protected - 1 if the next data connection must be TLS */
int ftps_sess_data_protected(const struct ftps_sess *sess);

/* ftps_sess_ccc - judge and apply CCC (RFC 4217 section 6): allowed only
 * on a protected control channel, and only when TLSRequired does not
 * require the control channel to stay protected.  On FTPS_CCC_OK the caller
 * replies, then ends the control connection's TLS with close_notify both
 * ways; data protection stays as PROT set it. */
enum ftps_verdict ftps_sess_ccc(struct ftps_sess *sess);

/* ftps_sess_sscn - judge and apply "SSCN [ON|OFF]" (arg may be NULL: ask
 * for the current method) */
enum ftps_verdict ftps_sess_sscn(struct ftps_sess *sess, const char *arg);

/* ftps_sess_set_logged_in - USER/PASS succeeded */
void ftps_sess_set_logged_in(struct ftps_sess *sess);

/* ftps_sess_login_allowed - under FTPS_SESS_POLICY_PER_USER, once the
 * user's own TLSRequired is known: 0 if it wanted the control channel (or
 * the credentials) protected and they were not */
int ftps_sess_login_allowed(const struct ftps_sess *sess);

#endif /* FTPS_SESSION_H */

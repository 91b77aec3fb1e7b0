/*
 * mod_ftps - FTP over TLS (RFC 4217) for ProFTPD, a drop-in for mod_tls.
 *
 * This file is the module's wiring: its tables, its command handlers and
 * its event listeners.  It is the only file that answers clients (through
 * ProFTPD's response API) or ends sessions; the protocol state machine is in
 * session.c, TLS in tls.c/netio.c, certificates in keypair.c/server.c.
 */
#include "mod_ftps.h"
#include "ftps/alias.h"
#include "ftps/binding.h"
#include "ftps/certvars.h"
#include "ftps/client.h"
#include "ftps/deferstore.h"
#include "ftps/heap.h"
#include "ftps/log.h"
#include "ftps/netio.h"
#include "ftps/sendfile.h"
#include "ftps/passphrase.h"
#include "ftps/policy.h"
#include "ftps/renew.h"
#include "ftps/server.h"
#include "ftps/session.h"
#include "ftps/sni.h"
#include "ftps/stapling.h"
#include "ftps/tickets.h"

module ftps_module;

static int engine = FALSE;            /* TLSEngine on for this session */
static SSL_CTX *sess_ctx = NULL;      /* NULL: no certificate, AUTH gets 431 */
static unsigned long sess_opts = 0UL; /* TLSOptions */
static struct ftps_sess sess;
static int sess_cache_on = TRUE;      /* TLSSessionCache is not off */
static int sess_started = FALSE;      /* TLS machinery in place */
static struct ftps_netio_settings netio_set;  /* what NetIO must know */

/* The reply for each verdict that refuses or answers a command. */
static const struct {
  enum ftps_verdict verdict;
  const char *code;
  const char *text;
} replies[] = {
  { FTPS_AUTH_NO_ARG,       R_504, "AUTH requires at least one argument" },
  { FTPS_AUTH_UNKNOWN_MECH, R_504, "AUTH %s unsupported" },
  { FTPS_AUTH_SECOND,       R_503, "Unwilling to accept second AUTH" },
  { FTPS_AUTH_AFTER_LOGIN,  R_534, "Unwilling to accept security parameters" },
  { FTPS_PBSZ_OK,           R_200, "PBSZ 0 successful" },
  { FTPS_PBSZ_COUNTER,      R_200, "PBSZ=0 successful" },
  { FTPS_PBSZ_SYNTAX,       R_501, "PBSZ requires a buffer size of 0" },
  { FTPS_PROT_CLEAR,        R_200, "Protection set to Clear" },
  { FTPS_PROT_PRIVATE,      R_200, "Protection set to Private" },
  { FTPS_PROT_REFUSED,      R_534, "Unwilling to accept security parameters" },
  { FTPS_PROT_UNSUPPORTED,  R_536, "PROT %s unsupported" },
  { FTPS_PROT_UNKNOWN,      R_504, "PROT %s unsupported" },
  { FTPS_PROT_SYNTAX,       R_501, "PROT requires a protection level" },
  { FTPS_PROT_NEED_PBSZ,    R_503, "PBSZ must come before PROT" },
  { FTPS_NEED_SECURE_CTRL,  R_503,
    "%s not allowed on insecure control connection" },
  { FTPS_NEED_CTRL_TLS,     R_550, "SSL/TLS required on the control channel" },
  { FTPS_NEED_DATA_TLS,     "522", "SSL/TLS required on the data channel" },
  { FTPS_AUTH_AFTER_CCC,    R_534, "Unwilling to accept security parameters" },
  { FTPS_CCC_OK,            R_200, "Clearing control channel protection" },
  { FTPS_CCC_REFUSED,       R_534, "Unwilling to accept security parameters" },
  { FTPS_CCC_INSECURE,      R_533,
    "CCC not allowed on insecure control connection" },
  { FTPS_SSCN_SERVER,       R_200, "SSCN:SERVER METHOD" },
  { FTPS_SSCN_CLIENT,       R_200, "SSCN:CLIENT METHOD" },
  { FTPS_SSCN_SYNTAX,       R_501, "SSCN: Invalid argument" },
};

/* reply_find - the table row of verdict */
static int reply_find(enum ftps_verdict verdict) {
  size_t i;

  for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
    if (replies[i].verdict == verdict) {
      return (int) i;
    }
  }
  return -1;
}

/* answer - answer cmd for verdict: 2xx replies are handled, the rest are
 * errors; arg fills a "%s" in the text (the argument or the command) */
static modret_t *answer(cmd_rec *cmd, enum ftps_verdict verdict,
    const char *arg) {
  int i = reply_find(verdict);

  if (i < 0) {
    pr_response_add_err(R_500, "%s not understood", (char *) cmd->argv[0]);
    return PR_ERROR(cmd);
  }

  if (replies[i].code[0] == '2') {
    pr_response_add(replies[i].code, replies[i].text, arg);
    return PR_HANDLED(cmd);
  }

  pr_response_add_err(replies[i].code, replies[i].text, arg);
  pr_cmd_set_errno(cmd, EPERM);
  errno = EPERM;
  return PR_ERROR(cmd);
}

/* refresh_required - the TLSRequired that governs cmd: at the paths it
 * names, else (and for NULL) at the session's working directory; every
 * command is judged afresh, so a refusal never outlives its command */
static void refresh_required(cmd_rec *cmd) {
  ftps_policy_required(cmd, &sess.required);
}

/* refresh_session_required - the TLSRequired of the session as a whole
 * (vhost, or <Anonymous> once logged in), without the <Directory> it is
 * in: PROT sets the protection of every later transfer, wherever it goes,
 * so a directory's rule is for the transfer commands to enforce (522), as
 * mod_tls does, not for PROT to refuse (RFC 4217 section 9) */
static void refresh_session_required(void) {
  struct ftps_required *found;

  found = get_param_ptr(TOPLEVEL_CONF, "TLSRequired", FALSE);
  if (found != NULL) {
    sess.required = *found;

  } else {
    memset(&sess.required, 0, sizeof(sess.required));
  }
}

/* set_xfer_buffers - protected file transfers move FTPS_TLS_DATA_BUFSZ at
 * a time.  mod_xfer and the core size their transfer buffers from the
 * server's TCP buffer lengths (16 KiB by default): a download would then
 * cost a file read, a poll of the control connection and a write per TLS
 * record.  The lengths only size buffers here; the sockets' own buffers
 * are set only when SocketOptions asked for them, and those stay as the
 * administrator chose.  Listings keep the small buffers: ProFTPD's pools
 * never give memory back, and an idle session would carry them. */
static void set_xfer_buffers(int protect) {
  static server_rec *saved_for = NULL;
  static int saved_snd = 0, saved_rcv = 0;

  /* The core sized this transfer's buffer when it began, and clips each
   * write to the current length: growing it now would overflow that
   * buffer (a PROT in the middle of a transfer). */
  if (session.xfer.p != NULL ||
      (session.sf_flags & SF_XFER)) {
    return;
  }

  if (saved_for != main_server) {
    saved_for = main_server;
    saved_snd = main_server->tcp_sndbuf_len;
    saved_rcv = main_server->tcp_rcvbuf_len;
  }

  if (!main_server->tcp_sndbuf_override) {
    main_server->tcp_sndbuf_len = protect && saved_snd < FTPS_TLS_DATA_BUFSZ ?
      FTPS_TLS_DATA_BUFSZ : saved_snd;
  }
  if (!main_server->tcp_rcvbuf_override) {
    main_server->tcp_rcvbuf_len = protect && saved_rcv < FTPS_TLS_DATA_BUFSZ ?
      FTPS_TLS_DATA_BUFSZ : saved_rcv;
  }
}

/* update_data_protection - tell the NetIO layer the vhost's settings and
 * what the next data connection must be */
static void update_data_protection(void) {
  /* After CCC too: the data connection must resume a session this FTP
   * session issued (the control session, or a ticket bound to it), so
   * that nobody else takes the transfer (RFC 4217 section 10.2).  mod_tls
   * drops the check after CCC (its Bug#3465). */
  netio_set.data_require_reuse =
    !(sess_opts & FTPS_OPT_NO_SESSION_REUSE_REQUIRED) && sess_cache_on;
  netio_set.data_protect = ftps_sess_data_protected(&sess);
  netio_set.data_client_mode = (sess.flags & FTPS_SESS_FL_SSCN) ? TRUE :
    FALSE;
  ftps_netio_configure(&netio_set);
}

/* is_file_xfer - a command that moves a file's content */
static int is_file_xfer(const char *name) {
  return strcasecmp(name, C_RETR) == 0 ||
    strcasecmp(name, C_STOR) == 0 ||
    strcasecmp(name, C_APPE) == 0 ||
    strcasecmp(name, C_STOU) == 0;
}

/* set_env - one TLS_* variable (setenv copies it) */
static void set_env(const char *name, const char *value, void *arg) {
  (void) arg;

  if (pr_env_set(session.pool, name, value) < 0) {
    pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": cannot set %s in the "
      "environment: %s", name, strerror(errno));
  }
}

/* set_notes - what the session's TLS is, for LogFormat %{note:...},
 * mod_sql, mod_rewrite; and, with TLSOptions StdEnvVars, for programs the
 * session runs (mod_exec, SITE commands) */
static void set_notes(struct ftps_tls *tls) {
  const struct {
    const char *name;
    const char *value;
    int note;                       /* also a session note */
  } items[] = {
    { "FTPS",                "1",                        TRUE },
    { "TLS_PROTOCOL",        ftps_tls_protocol(tls),     TRUE },
    { "TLS_CIPHER",          ftps_tls_cipher(tls),       TRUE },
    { "TLS_SERVER_NAME",     ftps_tls_server_name(tls),  TRUE },
    { "TLS_LIBRARY_VERSION", ftps_tls_library(),         FALSE },
  };
  unsigned int flags;
  size_t i;

  for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
    if (*items[i].value == '\0') {
      continue;
    }

    if (items[i].note) {
      (void) pr_table_add_dup(session.notes, items[i].name, items[i].value,
        0);
    }
    if (sess_opts & FTPS_OPT_STD_ENV_VARS) {
      (void) pr_env_set(session.pool, items[i].name, items[i].value);
    }
  }

  /* The session ID, key sizes and certificate fields of StdEnvVars, the
   * certificates of ExportCertData, as mod_tls names them. */
  flags = ((sess_opts & FTPS_OPT_STD_ENV_VARS) ? FTPS_CERTVARS_STD : 0) |
    ((sess_opts & FTPS_OPT_EXPORT_CERT_DATA) ? FTPS_CERTVARS_EXPORT : 0);
  if (tls != NULL &&
      ftps_certvars_conn(ftps_tls_ssl(tls), flags, set_env, NULL) < 0) {
    ftps_log("TLSOptions StdEnvVars/ExportCertData: some variables are "
      "missing: %s", strerror(errno));
  }
}

/* ctrl_protected - the control handshake succeeded (AUTH or implicit):
 * record the session state where the core and other modules look */
static void ctrl_protected(enum ftps_verdict verdict) {
  struct ftps_tls *tls = ftps_netio_ctrl_tls();

  ftps_sess_auth_done(&sess, verdict);
  session.rfc2228_mech = "TLS";
  (void) pr_session_set_protocol("ftps");
  update_data_protection();

  set_notes(tls);

  ftps_log("control connection protected: %s, %s%s", ftps_tls_protocol(tls),
    ftps_tls_cipher(tls), ftps_tls_resumed(tls) ? ", resumed" : "");
}

/* limit_allows - <Limit AUTH PBSZ PROT CCC SSCN> in force where the session
 * is: the core leaves such checks to the module that handles the command */
static int limit_allows(cmd_rec *cmd) {
  const char *dir = (session.cwd[0] != '\0') ? session.cwd : "/";

  return dir_check(cmd->tmp_pool, cmd, G_NONE, (char *) dir, NULL) != 0;
}

/* note_upload - before STOR/APPE, protected or not: what a failed upload
 * must not damage (see deferstore.h) */
static void note_upload(cmd_rec *cmd) {
  char *path;

  ftps_deferstore_forget();
  if (cmd->argc < 2 ||
      (pr_cmd_cmp(cmd, PR_CMD_STOR_ID) != 0 &&
       pr_cmd_cmp(cmd, PR_CMD_APPE_ID) != 0)) {
    return;
  }

  path = dir_best_path(cmd->tmp_pool, cmd->arg);
  if (path != NULL) {
    ftps_deferstore_expect(path, pr_cmd_cmp(cmd, PR_CMD_STOR_ID) == 0);
  }
}

/* start_ctrl_tls - the control handshake; then the move to the vhost SNI
 * named (which decides from here on), then what the client's certificate
 * must name under that vhost's TLSOptions (CommonNameRequired and
 * friends).  The session state is recorded in between (ctrl_protected), so
 * that the vhost's settings apply to it. */
static int start_ctrl_tls(enum ftps_verdict verdict, pool *p,
    struct ftps_error *err) {
  if (ftps_netio_ctrl_start(err) < 0) {
    return -1;
  }
  ctrl_protected(verdict);
  if (ftps_sni_switch(p) < 0) {
    ftps_error_set(err, "cannot move the session to the vhost SNI named");
    return -1;
  }
  return ftps_client_check_names(sess_opts, err);
}

/* clear_listing - a STAT listing over a clear control connection carries
 * names in clear as LIST under PROT C would: refused where the path it
 * names, or one it may reach (-R, a glob), requires a protected data
 * channel.  What protects it is TLS on the control connection, hence
 * the reply.  NULL: allowed. */
static modret_t *clear_listing(cmd_rec *cmd) {
  const char *reached;

  if ((sess.flags & FTPS_SESS_FL_CTRL_TLS) ||
      !ftps_policy_is_ctrl_listing(cmd)) {
    return NULL;
  }

  reached = sess.required.data == FTPS_DATA_REQUIRED ? cmd->arg :
    ftps_policy_listing_reaches(cmd);
  if (reached == NULL) {
    return NULL;
  }

  ftps_log("%s %s refused: it would list %s, where TLSRequired demands a "
    "protected data channel, over the clear control connection",
    (char *) cmd->argv[0], cmd->arg, reached);
  return answer(cmd, FTPS_NEED_CTRL_TLS, NULL);
}

/* Command handlers
 */

MODRET ftps_any(cmd_rec *cmd) {
  enum ftps_verdict verdict;

  if (!engine) {
    return PR_DECLINED(cmd);
  }

  ftps_netio_before_cmd();
  refresh_required(cmd);
  verdict = ftps_sess_check_cmd(&sess, cmd->argv[0]);
  if (verdict == FTPS_OK) {
    modret_t *refused = clear_listing(cmd);

    if (refused != NULL) {
      return refused;
    }

    if (ftps_sess_is_data_cmd(cmd->argv[0])) {
      int protect = ftps_sess_data_protected(&sess);
      const char *reached;

      /* A recursive or globbing listing in clear must not carry the names
       * of a directory below whose TLSRequired demands data protection. */
      if (!protect &&
          (reached = ftps_policy_listing_reaches(cmd)) != NULL) {
        ftps_log("%s %s refused: it would list %s, where TLSRequired "
          "demands a protected data channel, in clear", (char *) cmd->argv[0],
          cmd->arg != NULL ? cmd->arg : "", reached);
        return answer(cmd, FTPS_NEED_DATA_TLS, NULL);
      }

      if (protect) {
        ftps_netio_ticket_before_data();
        ftps_deferstore_watch_reads();
      }
      note_upload(cmd);
      set_xfer_buffers(protect && is_file_xfer(cmd->argv[0]));
    }
    return PR_DECLINED(cmd);
  }

  pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": %s refused: TLSRequired",
    ftps_log_escape(cmd->tmp_pool, cmd->argv[0]));
  return answer(cmd, verdict, NULL);
}

MODRET ftps_auth(cmd_rec *cmd) {
  enum ftps_verdict verdict;
  struct ftps_error err;

  if (!engine) {
    return PR_DECLINED(cmd);
  }

  if (!limit_allows(cmd)) {
    return answer(cmd, FTPS_AUTH_AFTER_LOGIN, NULL);
  }

  verdict = ftps_sess_auth(&sess, cmd->argc > 1 ? cmd->argv[1] : NULL);
  if (verdict != FTPS_AUTH_TLS &&
      verdict != FTPS_AUTH_SSL) {
    return answer(cmd, verdict, cmd->argc > 1 ? cmd->argv[1] : "");
  }

  if (sess_ctx == NULL) {
    ftps_log("AUTH refused: no certificate is configured for this server");
    pr_response_add_err(R_431, "Necessary security resource unavailable");
    return PR_ERROR(cmd);
  }
  if (ftps_policy_chroot_hides_trust(main_server, sess_ctx)) {
    ftps_log("AUTH after login refused: the chroot hides "
      "TLSCACertificatePath/TLSCARevocationPath (client certificates "
      "would be judged by files under the user's root); use "
      "TLSCACertificateFile and TLSCARevocationFile for AUTH after login");
    pr_response_add_err(R_431, "Necessary security resource unavailable");
    return PR_ERROR(cmd);
  }

  /* RFC 4217 section 4: the reply goes in clear, then the handshake. */
  pr_response_send(R_234, "AUTH %s successful",
    verdict == FTPS_AUTH_SSL ? "SSL" : "TLS");

  ftps_error_clear(&err);
  if (start_ctrl_tls(verdict, cmd->pool, &err) < 0) {
    ftps_log("control connection: %s", err.msg);
    pr_log_pri(PR_LOG_NOTICE, MOD_FTPS_VERSION ": TLS handshake with %s "
      "failed: %s", pr_netaddr_get_ipstr(session.c->remote_addr),
      ftps_log_escape(cmd->tmp_pool, err.msg));

    /* Never fall back to plaintext: the session ends here. */
    pr_response_send_async(R_421, "TLS handshake failed");
    pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_BY_APPLICATION,
      "TLS handshake failed");
    return PR_ERROR(cmd);   /* not reached: the session has ended */
  }

  /* After AUTH SSL the data channel is protected with no PROT command;
   * mod_xfer learns of protection only from PROT, and would otherwise send
   * files with sendfile(2), in clear, onto the TLS data connection. */
  if (sess.flags & FTPS_SESS_FL_AUTH_SSL) {
    ftps_sendfile_forbid();
  }
  return PR_HANDLED(cmd);
}

MODRET ftps_ccc(cmd_rec *cmd) {
  enum ftps_verdict verdict;
  struct ftps_error err;

  if (!engine) {
    return PR_DECLINED(cmd);
  }

  if (!limit_allows(cmd)) {
    return answer(cmd, FTPS_CCC_REFUSED, NULL);
  }

  refresh_required(NULL);
  verdict = ftps_sess_ccc(&sess);
  if (verdict != FTPS_CCC_OK) {
    return answer(cmd, verdict, NULL);
  }

  /* RFC 4217 section 6: the reply still goes protected, then both sides
   * send close_notify, and the control connection goes on in clear.  A
   * fresh TLS 1.3 ticket goes with the reply, unless the client holds one:
   * data connections must still resume a session of this FTP session. */
  ftps_netio_ticket_before_data();
  pr_response_send(R_200, "Clearing control channel protection");
  ftps_error_clear(&err);
  if (ftps_netio_ctrl_clear(&err) < 0) {
    ftps_log("control connection: %s", err.msg);
    pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_BY_APPLICATION,
      "CCC failed");
    return PR_ERROR(cmd);   /* not reached: the session has ended */
  }

  update_data_protection();
  ftps_log("control connection cleared (CCC)");
  return PR_HANDLED(cmd);
}

MODRET ftps_sscn(cmd_rec *cmd) {
  enum ftps_verdict verdict;

  if (!engine) {
    return PR_DECLINED(cmd);
  }

  /* mod_tls's replies, which clients and scripts may match. */
  if (cmd->argc > 2) {
    pr_response_add_err(R_504, "SSCN: Invalid argument");
    pr_cmd_set_errno(cmd, EINVAL);
    errno = EINVAL;
    return PR_ERROR(cmd);
  }

  if (!limit_allows(cmd)) {
    pr_response_add_err(R_550, "SSCN: Operation not permitted");
    pr_cmd_set_errno(cmd, EPERM);
    errno = EPERM;
    return PR_ERROR(cmd);
  }

  verdict = ftps_sess_sscn(&sess, cmd->argc > 1 ? cmd->argv[1] : NULL);
  update_data_protection();
  return answer(cmd, verdict, NULL);
}

MODRET ftps_pbsz(cmd_rec *cmd) {
  if (!engine) {
    return PR_DECLINED(cmd);
  }

  if (!limit_allows(cmd)) {
    return answer(cmd, FTPS_PROT_REFUSED, NULL);
  }

  /* RFC 2228 section 3: PBSZ takes one decimal integer; more arguments
   * are a syntax error (501), as with mod_tls. */
  return answer(cmd, ftps_sess_pbsz(&sess, cmd->argc == 2 ?
    cmd->argv[1] : NULL), C_PBSZ);
}

MODRET ftps_prot(cmd_rec *cmd) {
  enum ftps_verdict verdict;

  if (!engine) {
    return PR_DECLINED(cmd);
  }

  if (!limit_allows(cmd)) {
    return answer(cmd, FTPS_PROT_REFUSED, NULL);
  }

  /* One protection level (RFC 2228 section 3): "PROT P P" is a syntax
   * error (501), as with mod_tls, not a PROT P. */
  refresh_session_required();
  verdict = ftps_sess_prot(&sess, cmd->argc == 2 ? cmd->argv[1] : NULL);
  update_data_protection();

  return answer(cmd, verdict, verdict == FTPS_NEED_SECURE_CTRL ? C_PROT :
    (cmd->argc > 1 ? (char *) cmd->argv[1] : ""));
}

/* is_upload - STOR or APPE, the uploads deferstore.c looks after */
static int is_upload(cmd_rec *cmd) {
  return pr_cmd_cmp(cmd, PR_CMD_STOR_ID) == 0 ||
    pr_cmd_cmp(cmd, PR_CMD_APPE_ID) == 0;
}

/* ftps_post_upload - the upload succeeded: only now may an empty one
 * replace the file's content.  A wildcard handler, so that it runs before
 * the other modules' POST_CMD STOR handlers (mod_quotatab's size tally),
 * and the 226 is not sent yet. */
MODRET ftps_post_upload(cmd_rec *cmd) {
  if (!is_upload(cmd)) {
    return PR_DECLINED(cmd);
  }

  if (ftps_deferstore_succeeded() < 0) {
    int xerrno = errno;

    ftps_log("%s %s: the upload was empty, but the old content could not be "
      "removed: %s", (char *) cmd->argv[0], cmd->arg, strerror(xerrno));
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s: the upload was empty, "
      "but the old content could not be removed: %s", (char *) cmd->argv[0],
      cmd->arg, strerror(xerrno));
  }
  return PR_DECLINED(cmd);
}

MODRET ftps_post_upload_err(cmd_rec *cmd) {
  if (is_upload(cmd)) {
    ftps_deferstore_failed();
  }
  return PR_DECLINED(cmd);
}

/* protocols_allow_ftps - does the Protocols in force for the logged-in
 * user (mod_ifsession may have changed it) allow FTPS?  mod_auth checks
 * "ftp" only when no RFC 2228 mechanism is in use: "ftps" is the TLS
 * module's to check. */
static int protocols_allow_ftps(void) {
  config_rec *c;
  array_header *list;
  unsigned int i;

  c = find_config(main_server->conf, CONF_PARAM, "Protocols", FALSE);
  if (c == NULL ||
      session.rfc2228_mech == NULL ||
      strcmp(session.rfc2228_mech, "TLS") != 0) {
    return TRUE;
  }

  list = c->argv[0];
  for (i = 0; i < list->nelts; i++) {
    const char *proto = ((char **) list->elts)[i];

    if (proto != NULL &&
        strcasecmp(proto, "ftps") == 0) {
      return TRUE;
    }
  }
  return FALSE;
}

MODRET ftps_post_pass(cmd_rec *cmd) {
  (void) cmd;

  if (!engine) {
    return PR_DECLINED(cmd);
  }

  ftps_sess_set_logged_in(&sess);

  /* A POST_CMD cannot fail the PASS: end the session, as mod_tls does. */
  if (!protocols_allow_ftps()) {
    ftps_log("user %s: ftps denied by Protocols; disconnecting",
      session.user ? session.user : "(unknown)");
    pr_response_send(R_530, "%s", "Login incorrect.");
    pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_CONFIG_ACL,
      "Denied by Protocols setting");
  }

  /* TLSOptions AllowPerUser: now that the user's configuration is in
   * force (<Anonymous>, mod_ifsession), apply its TLSRequired, ending the
   * session if not met; a <Directory>'s rule is for the commands there. */
  if (sess.policy & FTPS_SESS_POLICY_PER_USER) {
    refresh_session_required();
    if (!ftps_sess_login_allowed(&sess)) {
      ftps_log("user %s: TLSRequired demands a protected control channel; "
        "disconnecting", session.user ? session.user : "(unknown)");
      pr_response_send(R_530, "%s", "Login incorrect.");
      pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_CONFIG_ACL,
        "TLSRequired");
    }
  }
  return PR_DECLINED(cmd);
}

/* Event listeners
 */

static void ftps_exit_ev(const void *event_data, void *user_data) {
  (void) event_data;
  (void) user_data;

  ftps_log_close();
}

/* refuse_to_start - end the daemon (or "proftpd -t") with exit status 1:
 * pr_session_disconnect() would exit with 0, and init scripts and config
 * checks would take a refusal for success. */
static void refuse_to_start(void) {
  session.disconnect_reason = PR_SESS_DISCONNECT_BAD_CONFIG;
  session.disconnect_module = &ftps_module;
  pr_session_end(PR_SESS_END_FL_ERROR);
}

static void ftps_postparse_ev(const void *event_data, void *user_data) {
  unsigned int errors = ftps_conf_errors();

  (void) event_data;
  (void) user_data;

  ftps_conf_errors_reset();
  if (errors > 0) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": refusing to start: %u TLS "
      "configuration line%s refused above (in an Include'd file, ProFTPD "
      "skips the rest of the file after an error and would start without "
      "it)", errors, errors == 1 ? " was" : "s were");
    refuse_to_start();
    return;
  }

  /* Holes taken before the contexts are built too: OpenSSL's long-lived
   * objects (whose reference counts and locks every session writes) then
   * lie side by side on fewer pages (ftps/heap.h); not after a restart,
   * whose new contexts reuse the memory of the old ones. */
  (void) ftps_heap_plug_before_build();
  if (ftps_tickets_start() < 0 ||
      ftps_server_load_all() < 0) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": refusing to start: fix the "
      "TLS configuration above");
    refuse_to_start();
    return;
  }
  ftps_stapling_setup();
}

/* The holes left once every module has built its configuration are taken
 * here (ftps/heap.h): ProFTPD calls the modules' listeners latest-loaded
 * first, so ours runs before mod_lang's, which reads the locale directory
 * (a 32 kB buffer, setlocale()'s caches).  Taken before that, the heap's
 * holes would send what it allocates to the heap's top, and the holes it
 * leaves there would be taken at the next restart: the master grew by
 * about 33 kB at each.  Registered as a core listener (no module), this
 * runs after all the modules' listeners. */
static void ftps_heap_plug_ev(const void *event_data, void *user_data) {
  (void) event_data;
  (void) user_data;

  pr_log_debug(DEBUG5, MOD_FTPS_VERSION ": %lu bytes of free heap kept "
    "from sessions", (unsigned long) ftps_heap_plug());
  ftps_renew_watch_start();
}

static void ftps_restart_ev(const void *event_data, void *user_data) {
  (void) event_data;
  (void) user_data;

  /* Rebuilt from the new configuration at the next postparse, which takes
   * back each server's last good certificates and valid staples. */
  ftps_stapling_keep();
  ftps_renew_watch_stop();
  ftps_server_restart();
  ftps_alias_release();
  ftps_heap_restart();
  ftps_conf_errors_reset();
}

#ifdef PR_SHARED_MODULE
static void ftps_mod_unload_ev(const void *event_data, void *user_data) {
  (void) user_data;

  if (event_data == NULL ||
      strcmp((const char *) event_data, "mod_ftps.c") != 0) {
    return;
  }

  /* Nothing of ours may be called once the DSO is gone. */
  pr_event_unregister(&ftps_module, NULL, NULL);
  pr_event_unregister(NULL, "core.postparse", ftps_heap_plug_ev);
  ftps_alias_detach();
  ftps_stapling_keep();
  ftps_renew_watch_stop();
  ftps_server_unload();
  ftps_heap_unplug();
}
#endif /* PR_SHARED_MODULE */

/* Initialization
 */

static int ftps_init(void) {
  /* Answer to <IfModule mod_tls.c>; refuse to load beside mod_tls, since
   * both would parse the same TLS* directives and answer AUTH.  A module
   * that fails its init is only unloaded, and in an Include'd file
   * (Debian's modules.conf) ProFTPD just warns and starts with mod_tls
   * alone: end the daemon (and "proftpd -t") here instead, before any of
   * our event listeners exist to outlive the unloaded code. */
  if (ftps_alias_register() < 0) {
    refuse_to_start();
    return -1;
  }

  /* Read openssl.cnf now, as root and before any chroot. */
  if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": OpenSSL failed to initialize");
    refuse_to_start();
    return -1;
  }

#ifdef PR_SHARED_MODULE
  pr_event_register(&ftps_module, "core.module-unload", ftps_mod_unload_ev,
    NULL);
#endif /* PR_SHARED_MODULE */
  pr_event_register(&ftps_module, "core.postparse", ftps_postparse_ev, NULL);
  pr_event_register(NULL, "core.postparse", ftps_heap_plug_ev, NULL);
  pr_event_register(&ftps_module, "core.restart", ftps_restart_ev, NULL);
  return 0;
}

/* start_implicit - implicit FTPS (TLSOptions UseImplicitSSL): the client
 * starts TLS as soon as it connects, before the banner, and the data
 * channel is protected without PROT (as mod_tls does; lftp relies on it) */
static void start_implicit(void) {
  struct ftps_error err;

  if (sess_ctx == NULL) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSOptions UseImplicitSSL, "
      "but no certificate is configured for server '%s'",
      main_server->ServerName);
    pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_BAD_CONFIG,
      "no certificate for implicit FTPS");
  }

  /* mod_xfer, whose session init runs after ours, sees "TLS" and keeps
   * sendfile off. */
  ftps_error_clear(&err);
  if (start_ctrl_tls(FTPS_AUTH_SSL, session.pool, &err) < 0) {
    ftps_log("implicit FTPS: control connection: %s", err.msg);
    pr_log_pri(PR_LOG_NOTICE, MOD_FTPS_VERSION ": TLS handshake with %s "
      "failed: %s", pr_netaddr_get_ipstr(session.c->remote_addr),
      ftps_log_escape(session.pool, err.msg));
    pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_BY_APPLICATION,
      "TLS handshake failed");
  }
}

/* sess_use_server - the settings of the vhost the session is on (at
 * session start, and again when HOST or SNI moves it) */
static void sess_use_server(server_rec *s) {
  engine = ftps_server_engine(s);
  sess_ctx = ftps_server_ctx(s);
  sess_opts = ftps_server_options(s);
  sess_cache_on = ftps_server_session_cache(s, NULL);
  /* The vhost the session is on decides, also after HOST or SNI moved it
   * away from one with AllowPerUser. */
  if (sess_opts & FTPS_OPT_ALLOW_PER_USER) {
    sess.policy |= FTPS_SESS_POLICY_PER_USER;

  } else {
    sess.policy &= ~FTPS_SESS_POLICY_PER_USER;
  }
  (void) ftps_log_open(s);

  /* TLSEngine on and nothing good to serve (a restart found no good
   * certificate for a new server, or a CA or CRL file it cannot read):
   * never serve it in clear. */
  if (engine &&
      sess_ctx == NULL &&
      ftps_server_unavailable(s)) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": server '%s' has no usable "
      "certificate or CA/CRL file (see the log of the last restart): "
      "session refused",
      s->ServerName != NULL ? s->ServerName : "(unnamed)");
    pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_BAD_CONFIG,
      "no usable certificate");
  }

  netio_set.ctx = sess_ctx;
  netio_set.client_ctx = ftps_server_client_ctx(s);
  netio_set.timeout = ftps_server_handshake_timeout(s);
  ftps_server_rekey(s, &netio_set.rekey_ctrl_secs, &netio_set.rekey_data_kb);
  netio_set.kernel_tls = ftps_server_kernel_tls(s);
  if (sess_opts & FTPS_OPT_ENABLE_DIAGS) {
    ftps_log_diags(sess_ctx);
  }
  update_data_protection();
}

/* sess_fail - the session's TLS state could not be set up: end the
 * session (fail closed).  Running on without it would let TLSRequired and
 * the data-connection binding go unenforced. */
static void sess_fail(const char *what, int xerrno) {
  pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": %s: %s; ending the session",
    what, strerror(xerrno));
  ftps_log("%s: %s; ending the session", what, strerror(xerrno));
  pr_session_disconnect(&ftps_module, PR_SESS_DISCONNECT_SESSION_INIT_FAILED,
    what);
}

/* ftps_sess_reinit_ev - HOST (or SNI, see sni.c) moved the session to
 * another vhost */
static void sess_start(void);

static void ftps_sess_reinit_ev(const void *event_data, void *user_data) {
  (void) event_data;
  (void) user_data;

  if (!sess_started) {
    sess_start();
    return;
  }
  sess_use_server(main_server);
  refresh_required(NULL);
}

static int ftps_session_init(void) {
  ftps_passphrase_sess_init();
  ftps_stapling_sess_init();
  ftps_tickets_sess_init();

  /* Sessions never read certificates: the master's watcher is not theirs. */
  ftps_renew_watch_stop();

  pr_event_register(&ftps_module, "core.session-reinit", ftps_sess_reinit_ev,
    NULL);
  sess_start();
  return 0;
}

/* sess_start - the session's TLS machinery, once TLSEngine is on for the
 * vhost it is on; a failure ends the session (at session start, or after
 * HOST moved it to a vhost with TLSEngine on) */
static void sess_start(void) {
  struct ftps_required *req;

  engine = ftps_server_engine(main_server);
  if (!engine) {
    return;
  }
  sess_started = TRUE;

  /* A new token per FTP session: only its own tickets resume its data
   * connections (see binding.h). */
  if (ftps_binding_renew() < 0) {
    sess_fail("no random bytes for the session binding", errno);
  }

  req = get_param_ptr(main_server->conf, "TLSRequired", FALSE);
  ftps_sess_init(&sess, req);

  sess_use_server(main_server);
  if (ftps_netio_install(&netio_set) < 0) {
    sess_fail("cannot register the TLS NetIO", errno);
  }

  pr_event_register(&ftps_module, "core.exit", ftps_exit_ev, NULL);

  /* README promises that a failed upload loses nothing: a session that
   * cannot keep the promise does not start. */
  if (ftps_deferstore_install(session.pool) < 0) {
    sess_fail("cannot add the FSIO layer that keeps failed uploads from "
      "damaging files", errno);
  }

  if (sess_opts & FTPS_OPT_USE_IMPLICIT_SSL) {
    start_implicit();
  }

  /* RFC 4217 section 6. */
  pr_feat_add("AUTH TLS");
  pr_feat_add(C_CCC);
  pr_feat_add(C_PBSZ);
  pr_feat_add(C_PROT);
  pr_feat_add("SSCN");
  pr_help_add(C_AUTH, "<sp> TLS|SSL", TRUE);
  pr_help_add(C_PBSZ, "<sp> 0", TRUE);
  pr_help_add(C_PROT, "<sp> C|P", TRUE);
}

/* ftps_log_any - the command is answered and its data connection closed */
MODRET ftps_log_any(cmd_rec *cmd) {
  (void) ftps_sendfile_allow(FALSE);
  if (engine &&
      ftps_sess_is_data_cmd(cmd->argv[0]) &&
      ftps_sess_data_protected(&sess)) {
    ftps_netio_ticket_after_data();
  }
  return PR_DECLINED(cmd);
}

static cmdtable ftps_cmdtab[] = {
  { PRE_CMD,  C_ANY,  G_NONE, ftps_any,       FALSE, FALSE, CL_NONE, NULL },
  { CMD,      C_AUTH, G_NONE, ftps_auth,      FALSE, FALSE, CL_SEC,  NULL },
  { CMD,      C_PBSZ, G_NONE, ftps_pbsz,      FALSE, FALSE, CL_SEC,  NULL },
  { CMD,      C_PROT, G_NONE, ftps_prot,      FALSE, FALSE, CL_SEC,  NULL },
  { CMD,      C_CCC,  G_NONE, ftps_ccc,       TRUE,  FALSE, CL_SEC,  NULL },
  { CMD,      "SSCN", G_NONE, ftps_sscn,      TRUE,  FALSE, CL_SEC,  NULL },
  { POST_CMD, C_PASS, G_NONE, ftps_post_pass, FALSE, FALSE, CL_NONE, NULL },
  { POST_CMD, C_ANY,  G_NONE, ftps_post_upload, FALSE, FALSE, CL_NONE, NULL },
  { POST_CMD_ERR, C_ANY, G_NONE, ftps_post_upload_err, FALSE, FALSE, CL_NONE,
    NULL },
  { LOG_CMD,  C_ANY,  G_NONE, ftps_log_any,   FALSE, FALSE, CL_NONE, NULL },
  { LOG_CMD_ERR, C_ANY, G_NONE, ftps_log_any,   FALSE, FALSE, CL_NONE, NULL },
  { 0, NULL, NULL, NULL, 0, 0, 0, NULL }
};

module ftps_module = {
  NULL, NULL,                 /* always NULL */
  0x20,                       /* API version 2.0 */
  "ftps",                     /* module name: LoadModule mod_ftps.c */
  ftps_conftab,
  ftps_cmdtab,
  ftps_client_authtab,        /* certificate logins */
  ftps_init,
  ftps_session_init,
  MOD_FTPS_VERSION,
  NULL,                       /* handle: set by mod_dso */
  0                           /* priority: set by the core */
};

/*
 * client.c - what a client's certificate is allowed to do (ftps/client.h):
 * satisfy TLSOptions CommonNameRequired, dNSNameRequired and
 * iPAddressRequired after the control handshake, and log a user in without
 * a password (TLSUserName, TLSOptions AllowDotLogin).
 *
 * A certificate login goes through ProFTPD's auth API: these handlers
 * answer PR_AUTH_RFC2228_OK, which mod_auth takes as "authenticated by the
 * security mechanism" (at USER: 232, no PASS).  They look at the vhost the
 * session is on when asked, so a HOST or SNI switch is followed.
 * session.auth_mech is set to "mod_tls.c", the string mod_auth tests to let
 * such a login through 'AllowEmptyPasswords off'.
 */
#include "ftps/client.h"
#include "ftps/config.h"
#include "ftps/context.h"
#include "ftps/log.h"
#include "ftps/netio.h"
#include "ftps/peer.h"
#include "ftps/server.h"

/* peer_cert - the client certificate of the protected control connection,
 * or NULL (no TLS, CCC done, or no certificate sent) */
static X509 *peer_cert(void) {
  struct ftps_tls *tls = ftps_netio_ctrl_tls();

  if (tls == NULL) {
    return NULL;
  }
  return SSL_get0_peer_certificate(ftps_tls_ssl(tls));
}

int ftps_client_check_names(unsigned long opts, struct ftps_error *err) {
  int flags = 0;
  const char *ip, *host;
  X509 *cert = peer_cert();

  if (opts & FTPS_OPT_COMMON_NAME_REQUIRED) {
    flags |= FTPS_PEER_NEED_CN;
  }
  /* Without reverse DNS the client's name is its address, which no DNS
   * name can equal: mod_tls turns the option off, and says so. */
  if (opts & FTPS_OPT_DNS_NAME_REQUIRED) {
    if (ServerUseReverseDNS) {
      flags |= FTPS_PEER_NEED_DNS;

    } else {
      ftps_log("UseReverseDNS is off: TLSOptions dNSNameRequired has no "
        "client name to compare; disabled, as mod_tls does");
    }
  }
  if (opts & FTPS_OPT_IP_ADDRESS_REQUIRED) {
    flags |= FTPS_PEER_NEED_IP;
  }

  /* Names are only asked of certificates that were verified. */
  if (flags == 0 ||
      (cert == NULL && ftps_server_verify_client(main_server) !=
       FTPS_VERIFY_ON)) {
    return 0;
  }

  ip = pr_netaddr_get_ipstr(session.c->remote_addr);
  host = session.c->remote_name;
  return ftps_peer_check_names(cert, flags, host, ip, err);
}

/* open_dotlogin - the user's ~/.tlslogin, opened as root without following
 * a final symlink; it must be a regular file owned by the user or by root
 * and writable by nobody else.  -1 when there is none to trust. */
static int open_dotlogin(pool *p, const char *user) {
  struct passwd *pw;
  struct stat st;
  const char *home, *path;
  int fd, xerrno;

  pw = pr_auth_getpwnam(p, user);
  if (pw == NULL) {
    return -1;
  }

  PRIVS_ROOT
  home = dir_realpath(p, pw->pw_dir);
  path = pdircat(p, home != NULL ? home : pw->pw_dir, ".tlslogin", NULL);
  fd = open(path, O_RDONLY|O_NOFOLLOW|O_NONBLOCK);
  xerrno = errno;
  PRIVS_RELINQUISH

  if (fd < 0) {
    ftps_log("AllowDotLogin: user %s: cannot open %s: %s", user, path,
      strerror(xerrno));
    return -1;
  }

  if (fstat(fd, &st) < 0 ||
      !S_ISREG(st.st_mode) ||
      (st.st_uid != pw->pw_uid && st.st_uid != 0) ||
      (st.st_mode & (S_IWGRP|S_IWOTH))) {
    ftps_log("AllowDotLogin: user %s: %s must be a regular file owned by "
      "the user, writable by nobody else; ignored", user, path);
    (void) close(fd);
    return -1;
  }
  return fd;
}

/* dotlogin_allows - AllowDotLogin: is the client's certificate in the
 * user's ~/.tlslogin? */
static int dotlogin_allows(pool *p, const char *user, X509 *cert) {
  struct ftps_error err;
  int fd, listed;

  fd = open_dotlogin(p, user);
  if (fd < 0) {
    return FALSE;
  }

  ftps_error_clear(&err);
  listed = ftps_peer_listed_in(cert, fd, &err);
  (void) close(fd);
  if (listed < 0) {
    ftps_log("AllowDotLogin: user %s: %s", user, err.msg);
  }
  return listed == 1;
}

/* cert_login - does the client's certificate log user in, and by which
 * rule?  NULL if it does not. */
static const char *cert_login(pool *p, const char *user) {
  const char *field;
  X509 *cert;

  if (!ftps_server_engine(main_server) ||
      user == NULL ||
      (cert = peer_cert()) == NULL) {
    return NULL;
  }

  if ((ftps_server_options(main_server) & FTPS_OPT_ALLOW_DOT_LOGIN) &&
      dotlogin_allows(p, user, cert)) {
    return "~/.tlslogin";
  }

  field = get_param_ptr(main_server->conf, "TLSUserName", FALSE);
  if (field != NULL &&
      ftps_peer_user_matches(cert, field, user) == 1) {
    return field;
  }
  return NULL;
}

/* login_ok - the answer of every handler when the certificate logs in */
static modret_t *login_ok(cmd_rec *cmd, const char *user, const char *how) {
  ftps_log("user %s logged in by client certificate (%s)", user, how);
  pr_log_auth(PR_LOG_NOTICE, "USER %s: logged in by TLS client certificate "
    "(%s)", ftps_log_escape(cmd->tmp_pool, user), how);
  session.auth_mech = "mod_tls.c";
  return mod_create_data(cmd, (void *) PR_AUTH_RFC2228_OK);
}

/* auth and requires_pass: argv[0] is the user name.  requires_pass is
 * how mod_auth learns, at USER, that the security exchange already
 * authorised the user (RFC 2228 section 3: "232 User logged in,
 * authorized by security data exchange"): it then logs the user in without
 * a PASS, as mod_tls does.  mod_core's AuthOrder leaves requires_pass
 * handlers alone, so this one is asked whatever AuthOrder lists. */
MODRET ftps_client_auth(cmd_rec *cmd) {
  const char *user = cmd->argc > 0 ? cmd->argv[0] : NULL;
  const char *how = cert_login(cmd->tmp_pool, user);

  return how != NULL ? login_ok(cmd, user, how) : PR_DECLINED(cmd);
}

/* check: argv[0] the stored hash, argv[1] the user, argv[2] the password */
MODRET ftps_client_check(cmd_rec *cmd) {
  const char *user = cmd->argc > 1 ? cmd->argv[1] : NULL;
  const char *how = cert_login(cmd->tmp_pool, user);

  return how != NULL ? login_ok(cmd, user, how) : PR_DECLINED(cmd);
}

authtable ftps_client_authtab[] = {
  { 0, "auth",          ftps_client_auth,  NULL },
  { 0, "check",         ftps_client_check, NULL },
  { 0, "requires_pass", ftps_client_auth,  NULL },
  { 0, NULL, NULL, NULL }
};

/* The stand-in mod_tls.c has no requires_pass: AuthOrder re-adds a listed
 * module's handlers without removing its requires_pass, and the auth
 * dispatcher, which stops when it comes back to the first handler, would
 * go round two different handlers of the same name forever. */
authtable ftps_client_alias_authtab[] = {
  { 0, "auth",          ftps_client_auth,  NULL },
  { 0, "check",         ftps_client_check, NULL },
  { 0, NULL, NULL, NULL }
};

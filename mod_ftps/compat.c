/*
 * compat.c - mod_tls directives that mod_ftps accepts without honouring
 * them (yet), so that a configuration written for mod_tls still starts.
 *
 * Each is checked for its context and argument count as mod_tls would, then
 * stored for later versions and announced once with a startup warning.
 */
#include "mod_ftps.h"

#define COMPAT_SERVER  (CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL)

static const struct {
  const char *name;
  int contexts;
  int max_args;          /* 0: any */
  const char *why;       /* what is ignored */
} compat_directives[] = {
  { "TLSControlsACLs",        CONF_ROOT, 0, "there are no ftpdctl actions" },
  { "TLSCryptoDevice",        COMPAT_SERVER, 1, "OpenSSL 3 uses providers, "
    "not engines" },
  { "TLSDSACertificateFile",  COMPAT_SERVER, 1, "DSA certificates are not "
    "supported" },
  { "TLSDSACertificateKeyFile", COMPAT_SERVER, 1, "DSA certificates are not "
    "supported" },
  { "TLSPKCS12File",          COMPAT_SERVER, 1, "use PEM files" },
  { "TLSPreSharedKey",        COMPAT_SERVER, 2, "TLS-PSK is not supported" },
  { "TLSRandomSeed",          COMPAT_SERVER, 1, "OpenSSL 3 seeds itself" },
  { "TLSServerInfoFile",      COMPAT_SERVER, 1, "no custom extensions" },
  { "TLSSessionTicketKeys",   CONF_ROOT, 0, "ticket keys live as long as "
    "the daemon" },
  { "TLSStapling",            COMPAT_SERVER, 1, "no OCSP stapling" },
  { "TLSStaplingCache",       CONF_ROOT, 1, "no OCSP stapling" },
  { "TLSStaplingOptions",     COMPAT_SERVER, 0, "no OCSP stapling" },
  { "TLSStaplingResponder",   COMPAT_SERVER, 1, "no OCSP stapling" },
  { "TLSStaplingTimeout",     COMPAT_SERVER, 1, "no OCSP stapling" },
  { NULL, 0, 0, NULL }
};

/* compat_find - the table row of a directive */
static int compat_find(const char *name) {
  int i;

  for (i = 0; compat_directives[i].name != NULL; i++) {
    if (strcasecmp(compat_directives[i].name, name) == 0) {
      return i;
    }
  }
  return -1;
}

/* warn_once - one warning per directive name, not one per vhost */
static void warn_once(int i) {
  static unsigned char warned[64];

  if (i < 0 || i >= (int) sizeof(warned) || warned[i]) {
    return;
  }
  warned[i] = TRUE;
  pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": %s is not supported by "
    "this version of mod_ftps and is ignored (%s)", compat_directives[i].name,
    compat_directives[i].why);
}

/* usage: any of the directives above */
modret_t *set_tlscompat(cmd_rec *cmd) {
  int i = compat_find(cmd->argv[0]);

  if (i < 0) {
    CONF_ERROR(cmd, "unknown directive");
  }
  CHECK_CONF(cmd, compat_directives[i].contexts);
  if (cmd->argc < 2 ||
      (compat_directives[i].max_args > 0 &&
       (int) cmd->argc - 1 > compat_directives[i].max_args)) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  warn_once(i);
  return PR_HANDLED(cmd);
}

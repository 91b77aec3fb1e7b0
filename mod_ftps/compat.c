/*
 * compat.c - mod_tls directives that mod_ftps accepts without honouring
 * them (yet), so that a configuration written for mod_tls still starts.
 *
 * Each is checked for its context, argument count and values as mod_tls
 * would (a value mod_tls refuses is refused, not silently ignored), then
 * stored for later versions and announced once with a startup warning.
 */
#include "mod_ftps.h"

#define COMPAT_SERVER  (CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL)

/* What the values must look like: mod_tls's grammar, so that a value
 * mod_tls refuses is refused here too, and not silently "ignored". */
enum compat_kind {
  COMPAT_ANY = 0,        /* any words */
  COMPAT_FILE,           /* an absolute path of an existing file */
  COMPAT_BOOL,           /* on|off */
  COMPAT_DURATION,       /* a timeout */
  COMPAT_CACHE,          /* type:/info */
  COMPAT_ACLS,           /* actions allow|deny user|group list */
  COMPAT_PSK             /* identity hex:/path */
};

static const struct {
  const char *name;
  int contexts;
  int max_args;          /* 0: any */
  enum compat_kind kind;
  const char *why;       /* what is ignored */
} compat_directives[] = {
  { "TLSControlsACLs",        CONF_ROOT, 4, COMPAT_ACLS, "there are no "
    "ftpdctl actions" },
  { "TLSCryptoDevice",        COMPAT_SERVER, 1, COMPAT_ANY, "OpenSSL 3 uses "
    "providers, not engines" },
  { "TLSDSACertificateFile",  COMPAT_SERVER, 1, COMPAT_FILE, "DSA "
    "certificates are not supported: TLS 1.3 has no DSA, and TLS 1.2 "
    "clients no longer offer it; clients get the server's RSA or EC "
    "certificate" },
  { "TLSDSACertificateKeyFile", COMPAT_SERVER, 1, COMPAT_FILE, "DSA "
    "certificates are not supported" },
  { "TLSPreSharedKey",        COMPAT_SERVER, 2, COMPAT_PSK, "TLS-PSK is not "
    "supported" },
  { "TLSRandomSeed",          COMPAT_SERVER, 1, COMPAT_ANY, "OpenSSL 3 seeds "
    "itself" },
  { "TLSServerInfoFile",      COMPAT_SERVER, 1, COMPAT_ANY, "no custom "
    "extensions" },
  { NULL, 0, 0, COMPAT_ANY, NULL }
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

/* check_file - an absolute path to a regular file */
static const char *check_file(pool *p, const char *arg) {
  struct stat st;

  if (*arg != '/') {
    return pstrcat(p, "'", arg, "' must be an absolute path", NULL);
  }
  if (stat(arg, &st) < 0) {
    return pstrcat(p, "cannot use '", arg, "': ", strerror(errno), NULL);
  }
  if (!S_ISREG(st.st_mode)) {
    return pstrcat(p, "cannot use '", arg, "': not a regular file", NULL);
  }
  return NULL;
}

/* check_acls - actions allow|deny user|group list */
static const char *check_acls(cmd_rec *cmd) {
  if (cmd->argc != 5) {
    return "expected: actions allow|deny user|group list";
  }
  if (strcasecmp(cmd->argv[2], "allow") != 0 &&
      strcasecmp(cmd->argv[2], "deny") != 0) {
    return pstrcat(cmd->tmp_pool, "expected allow or deny, got '",
      (char *) cmd->argv[2], "'", NULL);
  }
  if (strcasecmp(cmd->argv[3], "user") != 0 &&
      strcasecmp(cmd->argv[3], "group") != 0) {
    return pstrcat(cmd->tmp_pool, "expected user or group, got '",
      (char *) cmd->argv[3], "'", NULL);
  }
  return NULL;
}

/* check_value - NULL if the values fit the directive's grammar, else why
 * not, naming the value */
static const char *check_value(cmd_rec *cmd, enum compat_kind kind) {
  pool *p = cmd->tmp_pool;
  char *arg = cmd->argv[1];
  int n;

  switch (kind) {
    case COMPAT_ANY:
      return NULL;

    case COMPAT_FILE:
      return check_file(p, arg);

    case COMPAT_BOOL:
      return get_boolean(cmd, 1) == -1 ?
        pstrcat(p, "expected Boolean parameter, got '", arg, "'", NULL) : NULL;

    case COMPAT_DURATION:
      return pr_str_get_duration(arg, &n) < 0 ?
        pstrcat(p, "error parsing timeout value '", arg, "'", NULL) : NULL;

    case COMPAT_CACHE:
      return strchr(arg, ':') == NULL ?
        pstrcat(p, "expected type:/info, got '", arg, "'", NULL) : NULL;

    case COMPAT_ACLS:
      return check_acls(cmd);

    case COMPAT_PSK:
      if (cmd->argc != 3) {
        return "expected: identity hex:/path";
      }
      return strncmp(cmd->argv[2], "hex:", 4) != 0 ?
        pstrcat(p, "unsupported key format '", (char *) cmd->argv[2],
          "' (expected hex:/path)", NULL) : NULL;
  }

  return NULL;
}

/* usage: any of the directives above */
modret_t *set_tlscompat(cmd_rec *cmd) {
  const char *problem;
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

  problem = check_value(cmd, compat_directives[i].kind);
  if (problem != NULL) {
    CONF_ERROR(cmd, (char *) problem);
  }

  /* Kept, so that a server whose only certificate is DSA can be refused
   * with its name (server.c) rather than run without TLS. */
  if (strncasecmp(cmd->argv[0], "TLSDSA", 6) == 0) {
    add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  }
  warn_once(i);
  return PR_HANDLED(cmd);
}

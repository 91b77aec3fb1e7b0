/*
 * alias.c - mod_ftps also answers to the name "mod_tls.c" (ftps/alias.h).
 *
 * Debian's /etc/proftpd/tls.conf, and most configurations written for
 * mod_tls, wrap their TLS directives in <IfModule mod_tls.c>.  If nothing
 * answered to that name, ProFTPD would skip the whole block without a word
 * and the administrator would run plain FTP believing it was FTPS.  So while
 * mod_ftps is loaded, an empty module named "tls" is registered beside it:
 * <IfModule mod_tls.c> is entered, and the directives inside reach
 * mod_ftps's own handlers.  Other modules that ask whether mod_tls is loaded
 * (mod_sftp, mod_sql_postgres, mod_snmp) only want to know that the TLS
 * module owns OpenSSL's initialization, which is as true of mod_ftps.
 *
 * The stand-in lives in a pool, not in this DSO: on a restart mod_dso
 * unloads every module in turn, and would reach the stand-in after this DSO
 * is already unmapped.  Its only code pointers, the certificate-login auth
 * handlers, are withdrawn before that (ftps_alias_detach).  At a restart the
 * stand-in goes first (ftps_alias_release), with its pool: registered anew
 * by each load, it would otherwise stay in the permanent pool, some 300
 * bytes more of the master at every restart.
 */
#include "ftps/alias.h"
#include "ftps/client.h"

#define ALIAS_NAME        "tls"
#define ALIAS_MODULE      "mod_tls.c"

/* The mod_tls companions: they import mod_tls's C API (mod_tls.h), which
 * mod_ftps does not provide. */
static const char *const companions[] = {
  "mod_tls_fscache.c",
  "mod_tls_memcache.c",
  "mod_tls_redis.c",
  "mod_tls_shmcache.c",
  NULL
};

/* is_ours - a stand-in registered by (an earlier load of) mod_ftps */
static int is_ours(const module *m) {
  return m->module_version != NULL &&
    strncmp(m->module_version, "mod_ftps/", 9) == 0;
}

static module *alias = NULL;
static pool *alias_pool = NULL;

/* copy_authtable - the auth handlers, so that "AuthOrder mod_tls.c ..."
 * keeps certificate logins working; in the stand-in's pool */
static authtable *copy_authtable(const authtable *tab) {
  authtable *copy;
  size_t n = 0;

  while (tab[n].name != NULL) {
    n++;
  }
  copy = pcalloc(alias_pool, (n + 1) * sizeof(authtable));
  memcpy(copy, tab, n * sizeof(authtable));
  return copy;
}

void ftps_alias_detach(void) {
  authtable *tab;

  if (alias == NULL ||
      alias->authtable == NULL) {
    return;
  }

  /* The handlers are about to be unmapped with this DSO. */
  for (tab = alias->authtable; tab->name != NULL; tab++) {
    (void) pr_stash_remove_symbol(PR_SYM_AUTH, tab->name, alias);
  }
  alias->authtable = NULL;
}

void ftps_alias_release(void) {
  if (alias == NULL) {
    return;
  }

  ftps_alias_detach();
  if (pr_module_get(ALIAS_MODULE) == alias) {
    (void) pr_module_unload(alias);
  }
  alias = NULL;
  destroy_pool(alias_pool);
  alias_pool = NULL;
}

int ftps_alias_register(void) {
  module *m = pr_module_get(ALIAS_MODULE);

  if (m != NULL) {
    if (is_ours(m)) {
      return 0;
    }

    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": mod_tls is already loaded: "
      "mod_tls and mod_ftps cannot be loaded together; remove "
      "'LoadModule mod_tls.c' (mod_ftps reads the same TLS* directives)");
    errno = EEXIST;
    return -1;
  }

  alias_pool = make_sub_pool(permanent_pool);
  pr_pool_tag(alias_pool, MOD_FTPS_VERSION " mod_tls.c stand-in");
  m = pcalloc(alias_pool, sizeof(module));
  m->authtable = copy_authtable(ftps_client_alias_authtab);
  m->api_version = ftps_module.api_version;
  m->name = pstrdup(alias_pool, ALIAS_NAME);
  m->module_version = pstrdup(alias_pool, MOD_FTPS_VERSION " (as mod_tls.c)");

  if (pr_module_load(m) < 0) {
    int xerrno = errno;

    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": cannot register the name "
      "mod_tls.c: %s", strerror(xerrno));
    destroy_pool(alias_pool);
    alias_pool = NULL;
    errno = xerrno;
    return -1;
  }
  alias = m;
  return 0;
}

/* usage: LoadModule mod_xxx.c, seen after mod_ftps is loaded.
 * mod_dso ignores a module whose name is taken, so without this check
 * "LoadModule mod_tls.c" would be dropped silently. */
modret_t *ftps_alias_loadmodule(cmd_rec *cmd) {
  const char *name;
  int i;

  if (cmd->argc != 2) {
    return PR_DECLINED(cmd);
  }
  name = cmd->argv[1];

  if (strcmp(name, ALIAS_MODULE) == 0) {
    CONF_ERROR(cmd, "mod_tls and mod_ftps cannot be loaded together: "
      "remove 'LoadModule mod_tls.c' (mod_ftps reads the same TLS* "
      "directives)");
  }

  for (i = 0; companions[i] != NULL; i++) {
    if (strcmp(name, companions[i]) == 0) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, name, " is a companion of "
        "mod_tls and does not work with mod_ftps: remove its LoadModule "
        "line (mod_ftps resumes sessions with tickets and its internal "
        "cache; see README, 'Migrating from mod_tls')", NULL));
    }
  }

  return PR_DECLINED(cmd);
}

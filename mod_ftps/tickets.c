/*
 * tickets.c - TLSSessionTicketKeys and the ring of ticket keys in the
 * master and the sessions (ftps/tickets.h).
 */
#include "ftps/tickets.h"
#include "ftps/binding.h"
#include "ftps/server.h"
#include "ftps/ticketkeys.h"
#include "ftps/verify.h"

/* usage: TLSSessionTicketKeys [age secs] [count n] */
modret_t *set_tlssessionticketkeys(cmd_rec *cmd) {
  struct ftps_ticketkeys_conf conf, *kept;
  struct ftps_error err;
  config_rec *c;

  CHECK_CONF(cmd, CONF_ROOT);
  ftps_error_clear(&err);
  if (ftps_ticketkeys_parse((int) cmd->argc - 1, (char *const *) cmd->argv + 1,
      &conf, &err) < 0) {
    CONF_ERROR(cmd, pstrdup(cmd->tmp_pool, err.msg));
  }

  c = add_config_param(cmd->argv[0], 1, NULL);
  kept = pcalloc(c->pool, sizeof(*kept));
  *kept = conf;
  c->argv[0] = kept;
  return PR_HANDLED(cmd);
}

/* conf_of - TLSSessionTicketKeys of the daemon (server config only) */
static void conf_of(struct ftps_ticketkeys_conf *conf) {
  struct ftps_ticketkeys_conf *set;

  ftps_ticketkeys_conf_init(conf);
  set = get_param_ptr(main_server->conf, "TLSSessionTicketKeys", FALSE);
  if (set != NULL) {
    *conf = *set;
  }
}

/* log_made - what a new key did to the ring (the daemon's log: admins
 * see rotations, tests wait for them) */
static void log_made(const char *why, unsigned long made, int dropped) {
  pr_log_pri(PR_LOG_INFO, MOD_FTPS_VERSION ": session ticket key %lu made "
    "(%s); %d key%s decrypt%s, %d dropped", made, why,
    ftps_ticketkeys_count(), ftps_ticketkeys_count() == 1 ? "" : "s",
    ftps_ticketkeys_count() == 1 ? "s" : "", dropped);
}

/* rotate_cb - the master's timer: the next key, and old ones go */
static int rotate_cb(CALLBACK_FRAME) {
  unsigned long made = 0;
  int dropped = 0;

  (void) p1;
  (void) p2;
  (void) p3;
  (void) data;
  if (ftps_ticketkeys_rotate(time(NULL), &made, &dropped) < 0) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": cannot make a new "
      "session ticket key: %s; the current one stays", strerror(errno));
    return 1;
  }
  log_made("rotation", made, dropped);
  return 1;
}

int ftps_tickets_start(void) {
  struct ftps_ticketkeys_conf conf;
  unsigned long made = 0;
  int dropped = 0, restart = ftps_ticketkeys_count() > 0;

  conf_of(&conf);
  if (ftps_ticketkeys_start(&conf, time(NULL), &made, &dropped) < 0) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSSessionTicketKeys: cannot "
      "make session ticket keys: %s", strerror(errno));
    return -1;
  }
  log_made(restart || made > 1 ? "restart" : "start", made, dropped);
  if (ftps_ticketkeys_lock() < 0) {
    pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": cannot lock the session ticket "
      "keys in memory: %s", strerror(errno));
  }

  /* Timers of an unloaded module go with it (a restart reloads this DSO),
   * and sessions do not inherit the master's. */
  if (pr_timer_add((int) ftps_ticketkeys_interval(&conf), -1, &ftps_module,
      rotate_cb, "session ticket keys") < 0) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSSessionTicketKeys: cannot "
      "add the rotation timer: %s", strerror(errno));
    return -1;
  }
  pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": session ticket keys: a new one "
    "every %u s, each decrypts for %u s, at most %u kept",
    ftps_ticketkeys_interval(&conf), conf.max_age, conf.max_count);
  return 0;
}

/* scope_label - what a session authenticated on s depends on: which
 * server it is, and the rules its client certificate was judged by, down
 * to the CA certificates and CRLs ctx holds.  A restart or a renewal (the
 * watcher) that changes any of it means a full handshake for old tickets:
 * a client certificate revoked by a renewed CRL must not log in again by
 * resuming a session judged before the CRL came. */
static int scope_label(server_rec *s, SSL_CTX *ctx,
    const struct ftps_context_props *props, char *buf, size_t bufsz) {
  unsigned char trust[FTPS_VERIFY_DIGEST_LEN];
  char hex[2 * FTPS_VERIFY_DIGEST_LEN + 1];
  size_t i;
  int n;

  if (ftps_verify_digest(ctx, trust) < 0) {
    return -1;
  }
  for (i = 0; i < sizeof(trust); i++) {
    pr_snprintf(hex + 2 * i, 3, "%02x", trust[i]);
  }

  n = snprintf(buf, bufsz, "sid=%u\nname=%s\naddr=%s\nport=%u\nverify=%d\n"
    "depth=%d\nca=%s\ncapath=%s\ncrl=%s\ncrlpath=%s\nopts=%lx\ntrust=%s",
    s->sid, s->ServerName ? s->ServerName : "",
    s->ServerAddress ? s->ServerAddress : "", s->ServerPort,
    props->verify_client, props->verify_depth,
    props->ca_file ? props->ca_file : "", props->ca_path ? props->ca_path : "",
    props->crl_file ? props->crl_file : "",
    props->crl_path ? props->crl_path : "", ftps_server_options(s), hex);
  return n > 0 && (size_t) n < bufsz ? n : -1;
}

int ftps_tickets_ctx(server_rec *s, SSL_CTX *ctx,
    const struct ftps_context_props *props) {
  unsigned char scope[FTPS_TICKETKEYS_SCOPE_LEN];
  struct ftps_error err;
  char label[4 * PR_TUNABLE_PATH_MAX + 512];
  int n;

  ftps_error_clear(&err);
  n = scope_label(s, ctx, props, label, sizeof(label));
  if (n < 0 ||
      ftps_ticketkeys_scope(label, (size_t) n, scope) < 0 ||
      ftps_binding_set_scope(ctx, scope) < 0) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": server '%s': cannot derive "
      "the scope of its session tickets", s->ServerName);
    return -1;
  }
  if (ftps_ticketkeys_install(ctx, &err) < 0) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": server '%s': %s",
      s->ServerName, err.msg);
    return -1;
  }
  return 0;
}

void ftps_tickets_sess_init(void) {
  int res, xerrno;

  PRIVS_ROOT
  res = ftps_ticketkeys_lock();
  xerrno = errno;
  PRIVS_RELINQUISH
  if (res < 0) {
    pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": cannot lock the session ticket "
      "keys in memory: %s", strerror(xerrno));
  }
}

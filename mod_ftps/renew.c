/*
 * renew.c - the checks and the log of certificate reloads (ftps/renew.h).
 *
 * A restart (SIGHUP) and the watcher (FTPSCertificateWatch) read each
 * server's files again.  Material that fails a check never replaces what
 * is served: the server keeps its last good certificate, and the log says
 * which directive, which file, and why.
 */
#include "ftps/renew.h"
#include "ftps/stapling.h"
#include "ftps/heap.h"
#include "ftps/server.h"

extern xaset_t *server_list;

static int quiet = FALSE;     /* the same failure again: debug log only */

/* The files of a server, in the order they are watched. */
static const char *file_directives[] = {
  "TLSRSACertificateFile", "TLSRSACertificateKeyFile",
  "TLSECCertificateFile", "TLSECCertificateKeyFile",
  "TLSCertificateChainFile", "TLSPKCS12File",
  /* Not certificate material, but read into the same contexts: a CA file
   * or CRL renewed (a CRL's nextUpdate passes weekly) is taken as well,
   * without a signal.  Hashed directories (TLSCACertificatePath,
   * TLSCARevocationPath) need no watch: OpenSSL reads them at each
   * verification. */
  "TLSCACertificateFile", "TLSCARevocationFile",
};

/* The first of file_directives that is not certificate material. */
#define FIRST_TRUST_FILE 6

/* TLSCARevocationFile in file_directives. */
#define CRL_FILE 7

void ftps_renew_quiet(int on) {
  quiet = on;
}

void ftps_renew_log(int prio, const char *fmt, ...) {
  char buf[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);

  if (quiet) {
    pr_log_debug(DEBUG3, "%s", buf);

  } else {
    pr_log_pri(prio, "%s", buf);
  }
}

/* server_name - how the log names s */
static const char *server_name(server_rec *s) {
  return s->ServerName != NULL ? s->ServerName : "(unnamed)";
}

/* server_key - s's address, port, name and ServerAlias names: name-based
 * vhosts may share a ServerName (a hosting panel's), never their aliases,
 * by which SNI and HOST find them */
static void server_key(server_rec *s, char *buf, size_t bufsz) {
  config_rec *c;
  size_t len;
  unsigned int i;

  snprintf(buf, bufsz, "%s|%u|%s", s->ServerAddress ? s->ServerAddress : "",
    (unsigned int) s->ServerPort, s->ServerName ? s->ServerName : "");
  c = find_config(s->conf, CONF_PARAM, "ServerAlias", FALSE);
  while (c != NULL) {
    for (i = 0; i < c->argc; i++) {
      len = strlen(buf);
      if (c->argv[i] != NULL) {
        snprintf(buf + len, bufsz - len, "|%s", (char *) c->argv[i]);
      }
    }
    c = find_config_next(c, c->next, CONF_PARAM, "ServerAlias", FALSE);
  }
}

/* server_id - what names s across a restart, which builds new server
 * records: server_key(), and, for servers that share it, how many such
 * came before it */
static void server_id(server_rec *s, char *buf, size_t bufsz) {
  char key[1000], other[1000];
  server_rec *t;
  int nth = 0;

  server_key(s, key, sizeof(key));
  for (t = (server_rec *) server_list->xas_list; t != NULL && t != s;
      t = t->next) {
    server_key(t, other, sizeof(other));
    if (strcmp(key, other) == 0) {
      nth++;
    }
  }
  snprintf(buf, bufsz, "%s|%d", key, nth);
}

struct ftps_material *ftps_renew_claim(server_rec *s) {
  struct ftps_material *m;
  char id[1024];

  server_id(s, id, sizeof(id));
  m = ftps_reload_claim(id);
  if (m == NULL) {
    pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": server '%s': %s",
      server_name(s), strerror(errno));
  }
  return m;
}

void ftps_renew_files(server_rec *s, struct ftps_reload_files *files) {
  size_t i;

  memset(files, 0, sizeof(*files));
  PRIVS_ROOT
  for (i = 0; i < sizeof(file_directives) / sizeof(file_directives[0]);
      i++) {
    const char *path = get_param_ptr(s->conf, file_directives[i], FALSE);

    if (path != NULL &&
        ftps_reload_files_add(files, path) == 0) {
      files->files[files->nfiles - 1].what = (int) i;
    }
  }
  PRIVS_RELINQUISH
}

/* cert_source - the directive and file kp's certificate came from, as
 * far as its key type tells */
static void cert_source(server_rec *s, const struct ftps_keypair *kp,
    const char **directive, const char **path) {
  const char *type = ftps_keypair_key_type(kp);
  const char *rsa, *ec, *p12;

  rsa = get_param_ptr(s->conf, "TLSRSACertificateFile", FALSE);
  ec = get_param_ptr(s->conf, "TLSECCertificateFile", FALSE);
  p12 = get_param_ptr(s->conf, "TLSPKCS12File", FALSE);

  if (type != NULL && strcmp(type, "EC") == 0 && ec != NULL) {
    *directive = "TLSECCertificateFile", *path = ec;

  } else if (type != NULL && strcmp(type, "RSA") == 0 && rsa != NULL) {
    *directive = "TLSRSACertificateFile", *path = rsa;

  } else if (p12 != NULL) {
    *directive = "TLSPKCS12File", *path = p12;

  } else if (rsa != NULL) {
    *directive = "TLSRSACertificateFile", *path = rsa;

  } else if (ec != NULL) {
    *directive = "TLSECCertificateFile", *path = ec;
  }
}

void ftps_renew_warn_keypair(server_rec *s, const struct ftps_keypair *kp,
    const char *directive, const char *path) {
  char date[128];
  int exposed;

  if (ftps_keypair_expired(kp, time(NULL), date, sizeof(date))) {
    ftps_renew_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": %s %s (server '%s'): "
      "the certificate expired on %s; clients will refuse it", directive,
      path, server_name(s), date);

  } else if (ftps_reload_problems(kp, time(NULL)) &
      FTPS_RELOAD_NOT_YET_VALID) {
    /* A clock set wrong, here or at the CA: said, as expiry is. */
    ftps_renew_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": %s %s (server '%s'): "
      "%s; clients will refuse it until then", directive, path,
      server_name(s), ftps_reload_problem_str(FTPS_RELOAD_NOT_YET_VALID));
  }
  if (ftps_reload_problems(kp, time(NULL)) & FTPS_RELOAD_CHAIN_DATES) {
    ftps_renew_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": %s %s (server '%s'): "
      "%s; clients that verify will refuse it", directive, path,
      server_name(s), ftps_reload_problem_str(FTPS_RELOAD_CHAIN_DATES));
  }

  /* As root, as the file was read: the watcher runs as User, which
   * cannot stat() a key in certbot's 0700 archive/ directory. */
  PRIVS_ROOT
  exposed = ftps_keypair_key_file_exposed(kp);
  PRIVS_RELINQUISH
  if (exposed) {
    ftps_renew_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": the private key file %s "
      "(server '%s') can be read by group or others; fix it with: "
      "chmod 600 %s", kp->key_path, server_name(s), kp->key_path);
  }
}

/* old_counterpart - m's keypair of the same key type as kp, or NULL */
static const struct ftps_keypair *old_counterpart(
    const struct ftps_material *m, const struct ftps_keypair *kp) {
  const char *type = ftps_keypair_key_type(kp);
  int i;

  for (i = 0; i < m->nkps; i++) {
    const char *old = ftps_keypair_key_type(&m->kps[i]);

    if (type != NULL && old != NULL && strcmp(type, old) == 0) {
      return &m->kps[i];
    }
  }
  return m->nkps > 0 ? &m->kps[0] : NULL;
}

/* problem_source - the directive and file a problem of kind lies in: a
 * chain problem in TLSCertificateChainFile when there is one, else (a
 * certificate file that holds its chain) where the certificate is */
static void problem_source(server_rec *s, const struct ftps_keypair *kp,
    unsigned int kind, const char **directive, const char **path) {
  const char *chain = get_param_ptr(s->conf, "TLSCertificateChainFile",
    FALSE);

  if ((kind & FTPS_RELOAD_CHAIN_KINDS) &&
      chain != NULL) {
    *directive = "TLSCertificateChainFile", *path = chain;
    return;
  }
  cert_source(s, kp, directive, path);
}

int ftps_renew_refused(server_rec *s, const struct ftps_material *m,
    struct ftps_keypair *kps, int n) {
  time_t now = time(NULL);
  int i, refused = 0;

  for (i = 0; i < n; i++) {
    unsigned int found, kind;
    char desc[256];

    found = ftps_reload_new_problems(old_counterpart(m, &kps[i]), &kps[i],
      now);
    ftps_reload_describe(kps[i].cert, desc, sizeof(desc));
    for (kind = 1; found != 0 && kind <= found; kind <<= 1) {
      const char *directive = "TLSRSACertificateFile", *path = "";

      if (!(found & kind)) {
        continue;
      }
      problem_source(s, &kps[i], kind, &directive, &path);
      ftps_renew_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s (server '%s'): "
        "the new certificate (%s) is not used: %s", directive, path,
        server_name(s), desc, ftps_reload_problem_str(kind));
      refused = 1;
    }
  }
  return refused ? -1 : 0;
}

/* trust_taken - a CA file or CRL that changed since the last good
 * material was read, and is now used (new sessions verify client
 * certificates with it) */
static void trust_taken(server_rec *s, const struct ftps_reload_files *old,
    const struct ftps_reload_files *now) {
  int i, j;

  for (i = 0; i < now->nfiles; i++) {
    const struct ftps_reload_file *f = &now->files[i];
    int changed = TRUE;

    if (f->what < FIRST_TRUST_FILE) {
      continue;
    }
    for (j = 0; j < old->nfiles; j++) {
      const struct ftps_reload_file *o = &old->files[j];

      if (o->what == f->what &&
          strcmp(o->path, f->path) == 0) {
        changed = !ftps_reload_file_same(o, f);
        break;
      }
    }
    if (changed) {
      pr_log_pri(PR_LOG_NOTICE, MOD_FTPS_VERSION ": %s %s (server '%s'): "
        "read again; sessions that start from now on use it",
        file_directives[f->what], f->path, server_name(s));
    }
  }
}

/* chain_taken - the same certificate with another chain (an intermediate
 * renewed, or the chain file mended): nothing else says so, and clients
 * that could not build a path before may now, or the other way round */
static void chain_taken(server_rec *s, const struct ftps_keypair *kp,
    const struct ftps_keypair *old, const char *desc) {
  const char *directive = "TLSRSACertificateFile", *path = "";
  char now[512], before[512];

  problem_source(s, kp, FTPS_RELOAD_CHAIN_KINDS, &directive, &path);
  pr_log_pri(PR_LOG_NOTICE, MOD_FTPS_VERSION ": %s %s (server '%s'): new "
    "chain loaded for the same certificate (%s): %s, replacing %s",
    directive, path, server_name(s), desc,
    ftps_reload_describe_chain(kp->chain, now, sizeof(now)),
    ftps_reload_describe_chain(old->chain, before, sizeof(before)));
}

void ftps_renew_unservable(server_rec *s, struct ftps_keypair *kps,
    int n, const char *version) {
  int i;

  for (i = 0; i < n; i++) {
    const char *directive = "TLSRSACertificateFile", *path = "";
    char desc[256];

    cert_source(s, &kps[i], &directive, &path);
    ftps_renew_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s (server '%s'): the "
      "new certificate (%s, %s key) is not used: no %s handshake succeeds "
      "with it, where they do with the last good one (a key type or curve "
      "that TLS clients are not offered, such as brainpool, or that "
      "TLSCipherSuite has no suite for)", directive, path, server_name(s),
      ftps_reload_describe(kps[i].cert, desc, sizeof(desc)),
      ftps_keypair_key_type(&kps[i]) != NULL ?
      ftps_keypair_key_type(&kps[i]) : "unknown", version);
  }
}

/* last_crl_path - the TLSCARevocationFile m's last good material was read
 * with, or NULL */
static const char *last_crl_path(const struct ftps_material *m) {
  int i;

  for (i = 0; i < m->files.nfiles; i++) {
    if (m->files.files[i].what == CRL_FILE) {
      return m->files.files[i].path;
    }
  }
  return NULL;
}

int ftps_renew_crl_refused(server_rec *s, const struct ftps_material *m,
    SSL_CTX *ctx, int say) {
  const char *path = get_param_ptr(s->conf, "TLSCARevocationFile", FALSE);
  const char *last = last_crl_path(m), *issuer;
  char name[512];
  int older = 0;

  if (m->ncrls == 0 ||
      path == NULL ||
      last == NULL ||
      strcmp(path, last) != 0) {
    return 0;
  }
  issuer = ftps_verify_crl_lost(ctx, m->crls, m->ncrls, &older, name,
    sizeof(name));
  if (issuer == NULL) {
    return 0;
  }
  /* An issuer without a CRL is not checked (as with mod_tls): losing its
   * CRL, or going back to an older one, accepts again what was revoked. */
  if (say) {
    ftps_renew_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSCARevocationFile %s "
      "(server '%s'): the new file is not used: %s %s, a CA still trusted, "
      "%s (certificates revoked since would be accepted)", path,
      server_name(s), older ? "it holds only an older CRL of" :
      "it holds no CRL of", issuer, older ? "than the last good one" :
      "which the last good one had");
  }
  return -1;
}

void ftps_renew_taken(server_rec *s, struct ftps_material *m,
    struct ftps_keypair *kps, int n, const struct ftps_reload_files *files) {
  int i, renewed = 0;

  for (i = 0; i < n; i++) {
    const struct ftps_keypair *old = old_counterpart(m, &kps[i]);
    const char *directive = "TLSRSACertificateFile", *path = "";
    char desc[256], olddesc[256];

    cert_source(s, &kps[i], &directive, &path);
    ftps_reload_describe(kps[i].cert, desc, sizeof(desc));
    if (old == NULL) {
      /* A server's first material (a start, or the watcher after a
       * restart found none good) is as new as a renewal: warned about
       * when taken. */
      renewed++;
      pr_log_debug(DEBUG2, MOD_FTPS_VERSION ": %s %s (server '%s'): %s",
        directive, path, server_name(s), desc);

    } else if (!ftps_reload_same_cert(old->cert, kps[i].cert)) {
      char name[256];

      renewed++;
      pr_log_pri(PR_LOG_NOTICE, MOD_FTPS_VERSION ": %s %s (server '%s'): "
        "new certificate loaded (%s), replacing %s", directive, path,
        server_name(s), desc, ftps_reload_describe(old->cert, olddesc,
        sizeof(olddesc)));

      /* A renewal for another name (certbot's live/ link of another
       * domain) passes every check, and clients that check the host name
       * refuse it: said, since nothing else tells. */
      if (ftps_reload_lost_name(old->cert, kps[i].cert, name,
          sizeof(name)) != NULL) {
        pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": %s %s (server '%s'): "
          "the new certificate does not name '%s', which the one it "
          "replaces named: clients connecting by that name will refuse it",
          directive, path, server_name(s), name);
      }

    } else if (!ftps_reload_same_chain(old->chain, kps[i].chain)) {
      chain_taken(s, &kps[i], old, desc);
    }
  }

  if (m->nkps > 0) {
    trust_taken(s, &m->files, files);
  }
  m->renewed = renewed;
  if (ftps_reload_set(m, kps, n, files) < 0) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s': cannot "
      "keep its certificates for later reloads: %s", server_name(s),
      strerror(errno));
  }
}

void ftps_renew_kept(server_rec *s, const struct ftps_material *m) {
  char desc[256];
  int i;

  for (i = 0; i < m->nkps; i++) {
    ftps_renew_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s' keeps its "
      "last good certificate (%s) until its files pass every check",
      server_name(s), ftps_reload_describe(m->kps[i].cert, desc,
      sizeof(desc)));
  }
}

/* warn_days - FTPSCertificateExpiryWarning (-1: off) */
static int warn_days(void) {
  int *days = get_param_ptr(main_server->conf, "FTPSCertificateExpiryWarning",
    FALSE);

  return days != NULL ? *days : FTPS_CERT_EXPIRY_WARNING_DEFAULT;
}

void ftps_renew_warn_expiry(server_rec *s, const struct ftps_material *m,
    int expired_too) {
  int i, limit = warn_days();
  time_t now = time(NULL);

  for (i = 0; m != NULL && i < m->nkps; i++) {
    int left = ftps_reload_days_left(m->kps[i].cert, now);
    char desc[256];

    ftps_reload_describe(m->kps[i].cert, desc, sizeof(desc));
    if (left < 0 && expired_too) {
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s': the "
        "certificate (%s) has expired; clients will refuse it",
        server_name(s), desc);

    } else if (left == 0 && limit >= 0) {
      /* Less than 24 hours: "in 0 days" would read as "not yet". */
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s': the "
        "certificate (%s) expires within a day (FTPSCertificateExpiryWarning "
        "%d): renew it", server_name(s), desc, limit);

    } else if (left > 0 && limit >= 0 && left < limit) {
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s': the "
        "certificate (%s) expires in %d day%s (FTPSCertificateExpiryWarning "
        "%d): renew it", server_name(s), desc, left, left == 1 ? "" : "s",
        limit);
    }
  }
}

int ftps_renew_watch_interval(void) {
  int *secs = get_param_ptr(main_server->conf, "FTPSCertificateWatch", FALSE);

  return secs != NULL ? *secs : FTPS_CERT_WATCH_DEFAULT;
}

/* The watcher's timer (FTPSCertificateWatch), in the master only. */
static int watch_timer = -1;
static pid_t watch_pid = 0;          /* the master that set it */
static time_t next_expiry_warning = 0;

#define WATCH_EXPIRY_EVERY 86400     /* certificates near expiry: daily */

/* watch_cb - look for renewed certificates, and warn daily about those
 * near expiry.  A session inherits the timer list from the master: it
 * never reads certificates, and drops the timer. */
static int watch_cb(CALLBACK_FRAME) {
  time_t now = time(NULL);

  (void) p1;
  (void) p2;
  (void) p3;
  (void) data;

  if (getpid() != watch_pid) {
    watch_timer = -1;
    return 0;
  }

  if (ftps_renew_watch_interval() > 0 &&
      ftps_server_watch_pending() > 0) {
    /* As at a restart: the memory kept from sessions is given back for
     * the new contexts to reuse (else the master would grow by a set of
     * contexts at each renewal), and what is free after the old ones are
     * gone is kept from sessions again (ftps/heap.h). */
    ftps_heap_unplug();
    if (ftps_server_watch() > 0) {
      /* A renewed certificate needs its own staple; the others keep
       * theirs (kept by certificate, checked again). */
      ftps_stapling_keep();
      ftps_stapling_setup();
    }
    (void) ftps_heap_plug();
  }
  if (now >= next_expiry_warning) {
    next_expiry_warning = now + WATCH_EXPIRY_EVERY;
    ftps_server_watch_unhold();
    ftps_server_warn_expiry();
  }
  return 1;
}

/* ftps_renew_watch_start - the watcher's timer (at every start and
 * restart): every FTPSCertificateWatch seconds, or daily for the expiry
 * warnings alone */
void ftps_renew_watch_start(void) {
  int secs = ftps_renew_watch_interval();

  if (watch_timer >= 0) {
    (void) pr_timer_remove(watch_timer, &ftps_module);
  }
  watch_pid = getpid();
  next_expiry_warning = time(NULL) + WATCH_EXPIRY_EVERY;
  watch_timer = pr_timer_add(secs > 0 ? secs : WATCH_EXPIRY_EVERY, -1,
    &ftps_module, watch_cb, "FTPSCertificateWatch");
  if (watch_timer < 0) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": FTPSCertificateWatch: "
      "cannot set its timer (%s): renewed certificates are read at the next "
      "restart only", strerror(errno));
  }
}

/* ftps_renew_watch_stop - no timer of ours may outlive this copy of the
 * module */
void ftps_renew_watch_stop(void) {
  if (watch_timer >= 0) {
    (void) pr_timer_remove(watch_timer, &ftps_module);
    watch_timer = -1;
  }
}

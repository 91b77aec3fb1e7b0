/*
 * stapling.c - OCSP stapling in the master (ftps/stapling.h).
 *
 * mod_tls queried the responder inside each handshake, in the session
 * process, for up to TLSStaplingTimeout: a slow responder stalled every
 * login.  Here the handshake only ever reads memory.  The master keeps one
 * response per certificate; a forked child does the HTTP exchange (RFC 6960
 * appendix A.1), so that neither DNS nor a dead responder can block the
 * accept loop, and the master collects its answer on a one-second timer.
 */
#include "ftps/stapling.h"
#include "ftps/ocsp.h"
#include "ftps/server.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <pwd.h>
#include <grp.h>

extern xaset_t *server_list;

struct staple {
  struct staple *next;
  server_rec *server;
  X509 *cert;                  /* as served by the context (a reference) */
  X509 *issuer;
  STACK_OF(X509) *chain;       /* the served chain: a delegated responder's
                                * certificate may be there */
  char *url;                   /* responder, or NULL */
  const char *file;            /* FTPSStaplingFile, or NULL */
  unsigned int opts;           /* FTPS_STAPLING_OPT_* */
  int timeout;

  unsigned char *der;          /* the response stapled, or NULL */
  size_t len;
  struct ftps_ocsp_status st;
  struct stat file_st;         /* the file as last read (zero: missing) */
  int file_seen;               /* file_st is set */
  time_t next_fetch;

  pid_t pid;                   /* fetch child, 0 when none */
  int fd;                      /* its pipe, -1 when none */
  time_t fetch_started;
  unsigned char *req;          /* the request sent (its nonce) */
  size_t req_len;
  unsigned char *buf;          /* what the child wrote so far (only while
                                * a fetch runs) */
  size_t buf_len;
};

static struct staple *staples = NULL;
static int timer_id = -1;

#define TICK_SECS 1
/* A child still running this long after its timeout is killed. */
#define FETCH_GRACE 5

/* server_name - how the log names s */
static const char *server_name(server_rec *s) {
  return s->ServerName != NULL ? s->ServerName : "(unnamed)";
}

/* cert_name - "serial 1001" of a certificate, for the log */
static const char *cert_name(X509 *cert, char *buf, size_t bufsz) {
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
  char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

  snprintf(buf, bufsz, "certificate serial %s", hex != NULL ? hex : "?");
  OPENSSL_free(hex);
  BN_free(bn);
  return buf;
}

/* staple_log - one line about one certificate's staple */
static void staple_log(int prio, struct staple *sp, const char *fmt, ...) {
  char msg[1024], name[128];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pr_log_pri(prio, MOD_FTPS_VERSION ": OCSP stapling (server '%s', %s): %s",
    server_name(sp->server), cert_name(sp->cert, name, sizeof(name)), msg);
}

/* date_str - t in UTC, for the log */
static const char *date_str(time_t t, char *buf, size_t bufsz) {
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

/* staple_drop - stop stapling sp's response */
static void staple_drop(struct staple *sp) {
  free(sp->der);
  sp->der = NULL;
  sp->len = 0;
}

/* staple_take - check a response and staple it if it passes; otherwise
 * the previous one stays while it is valid.  0 taken, -1 refused. */
static int staple_take(struct staple *sp, unsigned char *der, size_t len,
    const char *from) {
  struct ftps_ocsp_status st;
  struct ftps_error err;
  time_t now = time(NULL);
  char d1[64], d2[64];

  if (ftps_ocsp_check(der, len, sp->cert, sp->issuer, sp->chain, sp->req,
        sp->req_len, (sp->opts & FTPS_STAPLING_OPT_NO_VERIFY) ?
        FTPS_OCSP_NO_VERIFY : 0, now, &st, &err) < 0) {
    /* A signed answer that the certificate is revoked (or unknown)
     * outweighs an older "good" one. */
    int verdict = st.cert_status == V_OCSP_CERTSTATUS_REVOKED ||
      st.cert_status == V_OCSP_CERTSTATUS_UNKNOWN;

    if (verdict) {
      staple_drop(sp);
    }
    staple_log(st.cert_status == V_OCSP_CERTSTATUS_REVOKED ? PR_LOG_ERR :
      PR_LOG_WARNING, sp, "response from %s refused: %s%s", from, err.msg,
      sp->der != NULL ? "; the previous response stays until it expires" :
      "; no staple is sent");
    free(der);
    return -1;
  }

  staple_drop(sp);
  sp->der = der;
  sp->len = len;
  sp->st = st;
  staple_log(PR_LOG_INFO, sp, "response from %s: good, this update %s, "
    "stapled until %s", from, date_str(st.this_update, d1, sizeof(d1)),
    date_str(st.valid_until, d2, sizeof(d2)));
  return 0;
}

/* file_check - (re)read the staple file when it changed (an admin's cron
 * job writes a new one before the old one expires) */
static void file_check(struct staple *sp) {
  struct ftps_error err;
  struct stat st;
  unsigned char *der;
  size_t len;
  int res;

  PRIVS_ROOT
  res = stat(sp->file, &st);
  PRIVS_RELINQUISH
  if (res < 0) {
    /* Said once, not at every tick, until the file is back. */
    memset(&st, 0, sizeof(st));
  }
  if (st.st_ino == sp->file_st.st_ino &&
      st.st_dev == sp->file_st.st_dev &&
      st.st_size == sp->file_st.st_size &&
      st.st_mtime == sp->file_st.st_mtime &&
      sp->file_seen) {
    return;
  }
  sp->file_st = st;
  sp->file_seen = TRUE;

  PRIVS_ROOT
  res = ftps_ocsp_read_file(sp->file, &der, &len, &err);
  PRIVS_RELINQUISH
  if (res < 0) {
    staple_log(PR_LOG_WARNING, sp, "FTPSStaplingFile %s: %s", sp->file,
      err.msg);
    return;
  }
  (void) staple_take(sp, der, len, sp->file);
}

/* write_all - the whole buffer to the pipe (a blocking one) */
static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);

    if (n < 0 &&
        errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    buf += n;
    len -= (size_t) n;
  }
}

/* fetch_child - in the child: POST the request (RFC 6960 appendix A.1),
 * write the answer to fd as "R" + the body of a 200, "H" + what the
 * responder answered instead, or "E" + why it did not answer; never
 * returns */
static void fetch_child(struct staple *sp, int fd) {
  unsigned char *body = NULL;
  size_t len = 0;
  char why[512];
  int res;

  res = ftps_ocsp_exchange(sp->url, sp->req, sp->req_len, sp->timeout,
    &body, &len, why, sizeof(why));
  if (res == 0) {
    write_all(fd, "R", 1);
    write_all(fd, (const char *) body, len);

  } else {
    write_all(fd, res > 0 ? "H" : "E", 1);
    write_all(fd, why, strlen(why));
  }
  _exit(0);
}

/* child_privs - the child needs no privileges: User and Group (or nobody) */
static int child_privs(void) {
  const char *user = get_param_ptr(main_server->conf, "UserName", FALSE);
  const char *group = get_param_ptr(main_server->conf, "GroupName", FALSE);
  struct passwd *pw = getpwnam(user != NULL ? user : "nobody");
  struct group *gr = group != NULL ? getgrnam(group) : NULL;
  uid_t uid = pw != NULL ? pw->pw_uid : 65534;
  gid_t gid = gr != NULL ? gr->gr_gid : pw != NULL ? pw->pw_gid : 65534;

  if (getuid() != 0 &&
      geteuid() != 0) {
    return 0;
  }
  PRIVS_ROOT
  if (setgroups(0, NULL) < 0 ||
      setgid(gid) < 0 ||
      setuid(uid) < 0) {
    return -1;
  }
  return 0;
}

/* What the child writes, at most: its one-byte tag ("R"), a body up to
 * the limit, and one byte more, by which a body over the limit shows.
 * (A buffer of the limit plus one took a body of exactly the limit for
 * one too large.) */
#define FETCH_BUF (1 + FTPS_OCSP_MAX_RESPONSE + 1)

/* fetch_start - fork the child that asks the responder */
static void fetch_start(struct staple *sp, time_t now) {
  struct ftps_error err;
  int fds[2];
  pid_t pid;

  OPENSSL_free(sp->req);
  sp->req = NULL;
  if (ftps_ocsp_request(sp->cert, sp->issuer,
        !(sp->opts & FTPS_STAPLING_OPT_NO_NONCE), &sp->req, &sp->req_len,
        &err) < 0 ||
      pipe(fds) < 0) {
    staple_log(PR_LOG_WARNING, sp, "cannot ask %s: %s", sp->url,
      sp->req == NULL ? err.msg : strerror(errno));
    sp->next_fetch = now + FTPS_OCSP_RETRY;
    return;
  }
  sp->buf = malloc(FETCH_BUF);
  sp->buf_len = 0;
  if (sp->buf == NULL) {
    staple_log(PR_LOG_WARNING, sp, "cannot ask %s: %s", sp->url,
      strerror(ENOMEM));
    close(fds[0]);
    close(fds[1]);
    sp->next_fetch = now + FTPS_OCSP_RETRY;
    return;
  }

  pid = fork();
  if (pid == 0) {
    int fd;

    /* Nothing of the master's but the pipe; SIGALRM kills a child that
     * outlives its timeout. */
    for (fd = 3; fd < 1024; fd++) {
      if (fd != fds[1]) {
        (void) close(fd);
      }
    }
    signal(SIGALRM, SIG_DFL);
    alarm(sp->timeout + FETCH_GRACE);
    if (child_privs() < 0) {
      _exit(1);
    }
    fetch_child(sp, fds[1]);
  }

  close(fds[1]);
  if (pid < 0) {
    staple_log(PR_LOG_WARNING, sp, "cannot fork to ask %s: %s", sp->url,
      strerror(errno));
    close(fds[0]);
    free(sp->buf);
    sp->buf = NULL;
    sp->next_fetch = now + FTPS_OCSP_RETRY;
    return;
  }
  (void) fcntl(fds[0], F_SETFL, O_NONBLOCK);
  (void) fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  sp->pid = pid;
  sp->fd = fds[0];
  sp->fetch_started = now;
  sp->buf_len = 0;
  pr_log_debug(DEBUG5, MOD_FTPS_VERSION ": OCSP stapling: asking %s "
    "(child %lu)", sp->url, (unsigned long) pid);
}

/* fetch_failed - log a fetch that brought no response: the responder did
 * not answer (why), or answered with something else (what) */
static void fetch_failed(struct staple *sp, const char *how,
    const char *text, int len) {
  staple_log(PR_LOG_WARNING, sp, "%s %s%.*s%s", sp->url, how, len, text,
    sp->der != NULL ? "; the previous response stays until it expires" :
    "; no staple is sent");
}

/* fetch_end - the child is done (or given up on): use its answer */
static void fetch_end(struct staple *sp, time_t now, const char *why) {
  unsigned char *buf = sp->buf, *der = NULL;
  size_t len = sp->buf_len;

  close(sp->fd);
  sp->fd = -1;
  sp->pid = 0;
  sp->buf = NULL;              /* held only while a fetch runs */
  sp->buf_len = 0;
  sp->next_fetch = now + FTPS_OCSP_RETRY;

  if (why != NULL) {
    fetch_failed(sp, "did not answer: ", why, (int) strlen(why));

  } else if (len < 1 ||
             (buf[0] != 'R' && len < 2)) {
    fetch_failed(sp, "did not answer: ", "no answer",
      (int) sizeof("no answer") - 1);

  } else if (buf[0] == 'H') {
    fetch_failed(sp, "", (const char *) buf + 1, (int) (len - 1));

  } else if (buf[0] != 'R') {
    fetch_failed(sp, "did not answer: ", (const char *) buf + 1,
      (int) (len - 1));

  } else if (!ftps_ocsp_is_response(buf + 1, len - 1)) {
    char what[128];

    snprintf(what, sizeof(what), "answered with something that is not an "
      "OCSP response (%lu bytes)", (unsigned long) (len - 1));
    fetch_failed(sp, "", what, (int) strlen(what));

  } else if ((der = malloc(len - 1)) != NULL) {
    memcpy(der, buf + 1, len - 1);
    if (staple_take(sp, der, len - 1, sp->url) == 0) {
      sp->next_fetch = ftps_ocsp_refresh_at(&sp->st, now);
    }
  }
  free(buf);
}

/* fetch_poll - read what the child wrote so far */
static void fetch_poll(struct staple *sp, time_t now) {
  ssize_t n;

  for (;;) {
    if (sp->buf_len >= FETCH_BUF) {
      kill(sp->pid, SIGKILL);
      fetch_end(sp, now, "the response is too large");
      return;
    }
    n = read(sp->fd, sp->buf + sp->buf_len, FETCH_BUF - sp->buf_len);
    if (n > 0) {
      sp->buf_len += (size_t) n;
      continue;
    }
    if (n == 0) {
      fetch_end(sp, now, NULL);
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    break;
  }

  if (now > sp->fetch_started + sp->timeout + FETCH_GRACE) {
    kill(sp->pid, SIGKILL);
    fetch_end(sp, now, "timed out (TLSStaplingTimeout)");
  }
}

/* staple_tick - one certificate's work at one tick */
static void staple_tick(struct staple *sp, time_t now) {
  if (sp->der != NULL &&
      now >= sp->st.valid_until) {
    staple_log(PR_LOG_WARNING, sp, "the response expired; no staple is "
      "sent until a new one is had");
    staple_drop(sp);
  }

  if (sp->file != NULL) {
    file_check(sp);

  } else if (sp->fd >= 0) {
    fetch_poll(sp, now);

  } else if (sp->url != NULL &&
             now >= sp->next_fetch) {
    fetch_start(sp, now);
  }
}

static int stapling_timer_cb(CALLBACK_FRAME) {
  struct staple *sp;
  time_t now = time(NULL);

  (void) p1;
  (void) p2;
  (void) p3;
  (void) data;

  /* A session inherits the timer until its init removes it; if the core
   * fires it before that (a slow session start), it must not read the
   * master's pipes or fork fetches of its own. */
  if (session.c != NULL) {
    timer_id = -1;
    return 0;
  }

  for (sp = staples; sp != NULL; sp = sp->next) {
    staple_tick(sp, now);
  }
  return 1;                    /* again */
}

/* status_cb - the staple of the certificate this handshake serves, while
 * it is valid; none on resumption (RFC 6066 section 8: the server "MAY"
 * send it, and mod_tls does not) */
static int status_cb(SSL *ssl, void *arg) {
  X509 *cert = SSL_get_certificate(ssl);
  struct staple *sp;
  unsigned char *copy;

  (void) arg;
  if (SSL_session_reused(ssl)) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  for (sp = staples; sp != NULL; sp = sp->next) {
    if (sp->cert == cert &&
        sp->der != NULL &&
        time(NULL) < sp->st.valid_until) {
      copy = OPENSSL_memdup(sp->der, sp->len);
      if (copy != NULL &&
          SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long) sp->len) == 1) {
        return SSL_TLSEXT_ERR_OK;
      }
      OPENSSL_free(copy);
      break;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

/* Setup
 */

/* stapling_on - TLSStapling, on by default once TLSStaplingCache is set
 * (as with mod_tls) */
static int stapling_on(server_rec *s) {
  int *on = get_param_ptr(s->conf, "TLSStapling", FALSE);

  if (on != NULL) {
    return *on;
  }
  return get_param_ptr(main_server->conf, "TLSStaplingCache", FALSE) != NULL;
}

/* file_for - the FTPSStaplingFile of s that holds cert's status, or NULL */
static const char *file_for(server_rec *s, X509 *cert, X509 *issuer) {
  config_rec *c = find_config(s->conf, CONF_PARAM, "FTPSStaplingFile", FALSE);
  const char *unread = NULL;
  int n = 0;

  for (; c != NULL; c = find_config_next(c, c->next, CONF_PARAM,
         "FTPSStaplingFile", FALSE)) {
    struct ftps_ocsp_status st;
    struct ftps_error err;
    unsigned char *der;
    size_t len;
    int res;

    n++;
    PRIVS_ROOT
    res = ftps_ocsp_read_file(c->argv[0], &der, &len, &err);
    PRIVS_RELINQUISH
    if (res == 0) {
      res = ftps_ocsp_check(der, len, cert, issuer, NULL, NULL, 0,
        FTPS_OCSP_NO_VERIFY, time(NULL), &st, &err);
      free(der);
      if (res == 0 || errno != ENOENT) {
        return c->argv[0];
      }

    } else {
      unread = c->argv[0];
    }
  }
  /* A single file that cannot be read yet (the admin's job has not run):
   * it is this certificate's, and is read again until it can be. */
  return n == 1 ? unread : NULL;
}

/* must_staple - does cert demand a staple (TLS Feature status_request,
 * RFC 7633)?  Clients that honour it refuse the certificate without one,
 * and mod_ftps never makes one up (mod_tls staples a fake tryLater). */
static int must_staple(X509 *cert) {
  return X509_get_ext_by_NID(cert, NID_tlsfeature, -1) >= 0;
}

/* no_staple - log why cert gets no staple; louder for a must-staple one */
static void no_staple(struct staple *sp, const char *why) {
  if (must_staple(sp->cert)) {
    staple_log(PR_LOG_ERR, sp, "%s, and the certificate is must-staple "
      "(TLS Feature, RFC 7633): clients that honour it will refuse it", why);

  } else {
    staple_log(PR_LOG_NOTICE, sp, "%s", why);
  }
}

/* staple_new - the stapling state of one certificate of s's context */
static void staple_new(server_rec *s, X509 *cert, STACK_OF(X509) *chain) {
  const char *responder = get_param_ptr(s->conf, "TLSStaplingResponder",
    FALSE);
  unsigned int *opts = get_param_ptr(s->conf, "TLSStaplingOptions", FALSE);
  int *timeout = get_param_ptr(s->conf, "TLSStaplingTimeout", FALSE);
  struct staple *sp = calloc(1, sizeof(*sp));
  X509 *issuer = ftps_ocsp_find_issuer(cert, chain);

  if (sp == NULL) {
    return;
  }
  sp->server = s;
  sp->cert = cert;
  sp->fd = -1;
  if (issuer == NULL) {
    no_staple(sp, "its issuer is not in the certificate file or "
      "TLSCertificateChainFile, so no response can be checked: no staple "
      "is sent");
    free(sp);
    return;
  }
  sp->file = file_for(s, cert, issuer);
  sp->url = responder != NULL ? strdup(responder) :
    ftps_ocsp_responder_url(cert);
  if (sp->file == NULL &&
      sp->url == NULL) {
    no_staple(sp, "the certificate names no OCSP responder (Let's Encrypt "
      "certificates have none since 2025) and neither TLSStaplingResponder "
      "nor FTPSStaplingFile is set: no staple is sent");
    free(sp);
    return;
  }
  if (sp->file == NULL &&
      ServerType == SERVER_INETD) {
    no_staple(sp, "ServerType inetd has no master process to fetch "
      "responses: use FTPSStaplingFile");
    free(sp->url);
    free(sp);
    return;
  }

  X509_up_ref(cert);
  X509_up_ref(issuer);
  sp->issuer = issuer;
  sp->chain = X509_chain_up_ref(chain);
  sp->opts = opts != NULL ? *opts : 0U;
  sp->timeout = timeout != NULL ? *timeout : FTPS_STAPLING_TIMEOUT_DEFAULT;
  sp->next = staples;
  staples = sp;
}

/* warn_must_staple - TLSStapling off and a must-staple certificate */
static void warn_must_staple(server_rec *s, SSL_CTX *ctx) {
  X509 *current = SSL_CTX_get0_certificate(ctx);
  char name[128];
  int res;

  for (res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); res == 1;
       res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);

    if (cert != NULL &&
        must_staple(cert)) {
      pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": server '%s': %s is "
        "must-staple (TLS Feature, RFC 7633) and TLSStapling is off: "
        "clients that honour it will refuse it", server_name(s),
        cert_name(cert, name, sizeof(name)));
    }
  }
  for (res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); res == 1 &&
       SSL_CTX_get0_certificate(ctx) != current;
       res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
  }
}

/* setup_ctx - every certificate of ctx (RSA, EC), then the current one
 * back as it was */
static void setup_ctx(server_rec *s, SSL_CTX *ctx) {
  X509 *current = SSL_CTX_get0_certificate(ctx);
  int res;

  for (res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); res == 1;
       res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    STACK_OF(X509) *chain = NULL;

    if (cert == NULL) {
      continue;
    }
    if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1 ||
        chain == NULL ||
        sk_X509_num(chain) == 0) {
      (void) SSL_CTX_get_extra_chain_certs(ctx, &chain);
    }
    staple_new(s, cert, chain);
  }

  for (res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); res == 1 &&
       SSL_CTX_get0_certificate(ctx) != current;
       res = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
  }
  SSL_CTX_set_tlsext_status_cb(ctx, status_cb);
}

/* staples_free - free a list of staples, ending their fetches */
static void staples_free(struct staple *list) {
  struct staple *sp;

  while (list != NULL) {
    sp = list;
    list = sp->next;
    if (sp->pid > 0) {
      (void) kill(sp->pid, SIGKILL);
    }
    if (sp->fd >= 0) {
      (void) close(sp->fd);
    }
    X509_free(sp->cert);
    X509_free(sp->issuer);
    sk_X509_pop_free(sp->chain, X509_free);
    free(sp->url);
    free(sp->der);
    OPENSSL_free(sp->req);
    free(sp->buf);
    free(sp);
  }
}

static void timer_stop(void) {
  if (timer_id >= 0) {
    (void) pr_timer_remove(timer_id, &ftps_module);
    timer_id = -1;
  }
}

void ftps_stapling_free(void) {
  timer_stop();
  staples_free(staples);
  staples = NULL;
}

/* A restart unloads this DSO (mod_dso loads it again), so the responses
 * kept for the next setup live in one malloc'd block, outside the DSO and
 * without OpenSSL objects, whose address waits in the master's
 * environment (as the passphrase cache's does). */
#define KEPT_ENV "MOD_FTPS_OCSP_KEPT"

struct kept_entry {
  unsigned char cert_md[32];     /* SHA-256 of the certificate */
  unsigned char url_md[32];      /* SHA-256 of the responder's URL */
  time_t next_fetch;
  size_t len;                    /* then len bytes of DER response; 0: a
                                  * retry time only */
};

/* url_digest - SHA-256 of sp's responder URL (zeros when none) */
static void url_digest(const struct staple *sp, unsigned char *md) {
  memset(md, 0, 32);
  if (sp->url != NULL) {
    (void) EVP_Digest(sp->url, strlen(sp->url), md, NULL, EVP_sha256(),
      NULL);
  }
}

/* kept_next - when sp is to be fetched next, as a restart is to keep it.
 * A failed fetch waits FTPS_OCSP_RETRY seconds, and a restart must not cut
 * that short (a SIGHUP storm would hammer the responder); a fetch still
 * under way, which the restart ends, counts as an attempt made when it
 * started. */
static time_t kept_next(const struct staple *sp) {
  time_t at = sp->next_fetch;

  if (sp->pid > 0 &&
      at < sp->fetch_started + FTPS_OCSP_RETRY) {
    at = sp->fetch_started + FTPS_OCSP_RETRY;
  }
  return at;
}

/* kept_retry - sp has no response, but a time before which it is not to
 * be asked again */
static int kept_retry(const struct staple *sp, time_t now) {
  return sp->der == NULL &&
    sp->file == NULL &&
    sp->url != NULL &&
    kept_next(sp) > now;
}

/* kept_block - every valid response and every pending retry time, as
 * [size_t total][entries...] */
static unsigned char *kept_block(void) {
  struct staple *sp;
  size_t total = sizeof(size_t), off;
  time_t now = time(NULL);
  unsigned char *block;

  for (sp = staples; sp != NULL; sp = sp->next) {
    if (sp->der != NULL) {
      total += sizeof(struct kept_entry) + sp->len;

    } else if (kept_retry(sp, now)) {
      total += sizeof(struct kept_entry);
    }
  }
  block = malloc(total);
  if (block == NULL) {
    return NULL;
  }
  memcpy(block, &total, sizeof(total));
  off = sizeof(total);
  for (sp = staples; sp != NULL; sp = sp->next) {
    struct kept_entry e;
    unsigned int n = 0;

    if (sp->der == NULL &&
        !kept_retry(sp, now)) {
      continue;
    }
    memset(&e, 0, sizeof(e));
    (void) X509_digest(sp->cert, EVP_sha256(), e.cert_md, &n);
    url_digest(sp, e.url_md);
    e.next_fetch = kept_next(sp);
    e.len = sp->der != NULL ? sp->len : 0;
    memcpy(block + off, &e, sizeof(e));
    if (e.len > 0) {
      memcpy(block + off + sizeof(e), sp->der, sp->len);
    }
    off += sizeof(e) + e.len;
  }
  return block;
}

void ftps_stapling_keep(void) {
  unsigned char *block;
  char addr[64];

  if (staples == NULL ||
      getenv(KEPT_ENV) != NULL) {
    ftps_stapling_free();
    return;
  }
  block = kept_block();
  snprintf(addr, sizeof(addr), "%p", (void *) block);
  if (block != NULL &&
      setenv(KEPT_ENV, addr, 1) < 0) {
    free(block);
  }
  ftps_stapling_free();
}

/* kept_take - the kept block (NULL when none), no longer in the
 * environment; the caller frees it */
static unsigned char *kept_take(void) {
  const char *env = getenv(KEPT_ENV);
  void *block = NULL;

  if (env != NULL &&
      sscanf(env, "%p", &block) != 1) {
    block = NULL;
  }
  (void) unsetenv(KEPT_ENV);
  return block;
}

/* take_kept - a restart keeps a certificate's valid response (checked
 * again, against the new issuer), so that handshakes right after SIGHUP
 * still carry it, and the next fetch stays when it was due; without a
 * response, the time of the next try after a failed one stays.  One
 * certificate may be served by several servers, each asking its own
 * responder: every entry is looked at, a response first. */
static void take_kept(struct staple *sp, const unsigned char *block) {
  unsigned char md[32], url_md[32];
  unsigned int n = 0;
  size_t total, off;
  time_t retry = 0;

  if (block == NULL ||
      X509_digest(sp->cert, EVP_sha256(), md, &n) != 1) {
    return;
  }
  url_digest(sp, url_md);
  memcpy(&total, block, sizeof(total));
  for (off = sizeof(total); off + sizeof(struct kept_entry) <= total; ) {
    struct kept_entry e;
    unsigned char *der;

    memcpy(&e, block + off, sizeof(e));
    off += sizeof(e);
    if (memcmp(e.cert_md, md, sizeof(md)) != 0) {
      off += e.len;
      continue;
    }

    /* A retry time holds for the responder that failed, not for one
     * the new configuration (or another server) names instead. */
    if (e.len == 0) {
      if (memcmp(e.url_md, url_md, sizeof(url_md)) == 0) {
        retry = e.next_fetch;
      }
      continue;
    }
    if ((der = malloc(e.len)) != NULL) {
      memcpy(der, block + off, e.len);
      if (staple_take(sp, der, e.len, "before the restart") == 0) {
        sp->next_fetch = e.next_fetch;
        return;
      }
    }
    off += e.len;
  }
  if (retry != 0) {
    sp->next_fetch = retry;
    pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": OCSP stapling: %s is asked "
      "again in %ld s, as before the restart", sp->url,
      (long) (retry - time(NULL)));
  }
}

void ftps_stapling_setup(void) {
  unsigned char *kept;
  struct staple *sp;
  server_rec *s;

  timer_stop();
  staples_free(staples);
  staples = NULL;
  for (s = (server_rec *) server_list->xas_list; s != NULL; s = s->next) {
    SSL_CTX *ctx = ftps_server_ctx(s);

    if (ctx != NULL &&
        ftps_server_engine(s)) {
      if (stapling_on(s)) {
        setup_ctx(s, ctx);

      } else {
        warn_must_staple(s, ctx);
      }
    }
  }
  if (staples == NULL) {
    free(kept_take());
    return;
  }

  /* Files are read before the first session.  Fetches start at the first
   * tick: after the daemon has detached, and never for "proftpd -t". */
  kept = kept_take();
  for (sp = staples; sp != NULL; sp = sp->next) {
    if (sp->file != NULL) {
      file_check(sp);

    } else {
      take_kept(sp, kept);
    }
  }
  free(kept);
  timer_id = pr_timer_add(TICK_SECS, -1, &ftps_module, stapling_timer_cb,
    "OCSP stapling");
}

void ftps_stapling_sess_init(void) {
  struct staple *sp;

  timer_stop();
  /* The master's fetch is not ours: forget it, but close nothing, since
   * the core has already rearranged the session's descriptors and the
   * number may now be the client's connection.  An inherited read end of
   * the pipe costs nothing. */
  for (sp = staples; sp != NULL; sp = sp->next) {
    sp->fd = -1;
    sp->pid = 0;
  }
}

/*
 * server.c - per-server TLS material, loaded once at startup (ftps/server.h).
 *
 * Certificates and keys are read here, in the master and as root, and the
 * SSL_CTX built from them is inherited by every session through fork():
 * sessions read no files (mod_tls re-read them in each session, one byte per
 * read()), hold no private copies, and a broken file stops the daemon at
 * startup instead of failing sessions later.
 */
#include "ftps/server.h"
#include "ftps/binding.h"
#include "ftps/config.h"
#include "ftps/context.h"
#include "ftps/keypair.h"
#include "ftps/passphrase.h"
#include "ftps/reload.h"
#include "ftps/renew.h"
#include "ftps/sni.h"
#include "ftps/tickets.h"
#include "ftps/verify.h"
#include "ftps/warmup.h"
#include "ftps/ktls.h"

extern xaset_t *server_list;

/* What loading logs: quiet when the watcher tries failed files again. */
#define load_log ftps_renew_log

struct server_tls {
  struct server_tls *next;
  server_rec *server;
  SSL_CTX *ctx;
  SSL_CTX *client_ctx;       /* SSCN: our side as the TLS client */
  struct ftps_material *material;   /* last good certificates, files */
  int provider_hung;         /* material->failed failed on a silent
                              * TLSPassPhraseProvider */
};

/* A TLSPassPhraseProvider that gave no answer in time while files were
 * read, in this reload (each wait holds up the master, which accepts no
 * session meanwhile: it is not asked again until the next), and for the
 * server being read. */
static int provider_hung = FALSE;
static int server_hung = FALSE;

/* The key the provider hung on: a server that shares it is held like
 * the one asked (many vhosts, one key); one with another key, not asked
 * in this reload, is not held: it is read again at the next look, else
 * its renewal would wait for a change that never comes. */
static char hung_path[PR_TUNABLE_PATH_MAX + 1];

/* The provider opened a key in this look: it answers again. */
static int provider_answered = FALSE;

static pool *server_pool = NULL;
static struct server_tls *servers = NULL;

/* The certificate directives, each with its key directive. */
static const struct {
  const char *cert_directive;
  const char *key_directive;
  const char *key_type;        /* for TLSPassPhraseProvider */
} cert_directives[FTPS_CONTEXT_MAX_KEYPAIRS] = {
  { "TLSRSACertificateFile", "TLSRSACertificateKeyFile", "RSA" },
  { "TLSECCertificateFile",  "TLSECCertificateKeyFile",  "EC" },
};

int ftps_server_engine(server_rec *s) {
  int *engine = get_param_ptr(s->conf, "TLSEngine", FALSE);

  return engine != NULL && *engine == TRUE;
}

unsigned long ftps_server_options(server_rec *s) {
  unsigned long opts = 0UL;
  config_rec *c;

  c = find_config(s->conf, CONF_PARAM, "TLSOptions", FALSE);
  while (c != NULL) {
    opts |= *((unsigned long *) c->argv[0]);
    c = find_config_next(c, c->next, CONF_PARAM, "TLSOptions", FALSE);
  }

  return opts;
}

int ftps_server_session_cache(server_rec *s, long *timeout) {
  config_rec *c = find_config(s->conf, CONF_PARAM, "TLSSessionCache", FALSE);

  if (timeout != NULL) {
    *timeout = c != NULL ? *((int *) c->argv[1]) : 0;
  }
  return c != NULL ? *((int *) c->argv[0]) : TRUE;
}

int ftps_server_verify_client(server_rec *s) {
  int *verify = get_param_ptr(s->conf, "TLSVerifyClient", FALSE);

  return verify != NULL ? *verify : FTPS_VERIFY_OFF;
}

void ftps_server_rekey(server_rec *s, long *ctrl_secs, long *data_kb) {
  struct ftps_rekey *rekey = get_param_ptr(s->conf, "TLSRenegotiate", FALSE);

  *ctrl_secs = rekey != NULL ? rekey->ctrl_secs : 0;
  *data_kb = rekey != NULL ? rekey->data_kb : 0;
}

int ftps_server_kernel_tls(server_rec *s) {
  int *on = get_param_ptr(s->conf, "FTPSKernelTLS", FALSE);

  return on != NULL ? *on : TRUE;
}

int ftps_server_handshake_timeout(server_rec *s) {
  int *timeout = get_param_ptr(s->conf, "TLSTimeoutHandshake", FALSE);

  return timeout != NULL ? *timeout : FTPS_TIMEOUT_HANDSHAKE_DEFAULT;
}

/* server_find - the TLS state of s, or NULL */
static struct server_tls *server_find(server_rec *s) {
  struct server_tls *st;

  for (st = servers; st != NULL; st = st->next) {
    if (st->server == s) {
      return st;
    }
  }
  return NULL;
}

SSL_CTX *ftps_server_ctx(server_rec *s) {
  struct server_tls *st = server_find(s);

  return st != NULL ? st->ctx : NULL;
}

const char *ftps_server_ctx_groups(SSL_CTX *ctx) {
  struct server_tls *st;

  for (st = servers; st != NULL; st = st->next) {
    if (st->ctx == ctx) {
      const char *groups = get_param_ptr(st->server->conf, "TLSECDHCurve",
        FALSE);

      return groups != NULL ? groups : FTPS_GROUPS_DEFAULT;
    }
  }
  return NULL;
}

SSL_CTX *ftps_server_client_ctx(server_rec *s) {
  struct server_tls *st = server_find(s);

  return st != NULL ? st->client_ctx : NULL;
}

/* server_name - how the log names s */
static const char *server_name(server_rec *s) {
  return s->ServerName != NULL ? s->ServerName : "(unnamed)";
}

/* The key type a TLSPassPhraseProvider is told for a PKCS#12 file. */
#define PKCS12_KEY_TYPE "PKCS12"

/* read_once - read one file into kp as root (a PKCS#12 file when
 * req->key_type says so) */
static int read_once(struct ftps_keypair *kp, const char *path,
    struct ftps_passphrase_req *req, struct ftps_error *err) {
  int res, xerrno;

  ftps_error_clear(err);
  PRIVS_ROOT
  if (strcmp(req->key_type, PKCS12_KEY_TYPE) == 0) {
    res = ftps_keypair_read_pkcs12(kp, path, ftps_passphrase_cb, req, err);

  } else {
    res = ftps_keypair_read_file(kp, path, ftps_passphrase_cb, req, err);
  }
  xerrno = errno;
  PRIVS_RELINQUISH

  errno = xerrno;
  return res;
}

/* read_file - read one file into kp; on failure log the directive, the
 * file and the reason, and return -1.  An encrypted key opens with the
 * provider's passphrase, else with the one typed at the terminal (at the
 * first start; remembered for restarts). */
static int read_file(server_rec *s, struct ftps_keypair *kp,
    const char *directive, const char *path, const char *key_type,
    int reload) {
  struct ftps_passphrase_req req;
  struct ftps_error err;
  int res;

  memset(&req, 0, sizeof(req));
  req.server = s;
  req.key_type = key_type;
  req.key_path = path;
  req.provider = get_param_ptr(main_server->conf, "TLSPassPhraseProvider",
    FALSE);

  /* A provider is asked again at each restart; a passphrase typed at the
   * terminal is remembered, since a restart has no terminal. */
  req.use_cache = req.provider == NULL;
  req.no_prompt = reload;
  req.give_up = provider_hung;

  res = read_once(kp, path, &req, &err);
  if (req.timed_out) {
    provider_hung = server_hung = TRUE;
    sstrncpy(hung_path, path, sizeof(hung_path));

  } else if (req.gave_up &&
             strcmp(path, hung_path) == 0) {
    server_hung = TRUE;
  }
  if (res == 0 &&
      req.answered) {
    provider_answered = TRUE;
  }
  if (res < 0) {
    int xerrno = errno;

    if (xerrno == ENOKEY && req.used_cache) {
      snprintf(req.why, sizeof(req.why), "the passphrase typed at startup "
        "no longer opens it; start the daemon again from a terminal");
      ftps_passphrase_forget(path);
    }
    (void) ftps_passphrase_remember(NULL);
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s (server '%s'): %s%s%s%s",
      directive, path, server_name(s), err.msg,
      xerrno == ENOKEY ? " (" : "",
      xerrno != ENOKEY ? "" : req.why[0] != '\0' ? req.why :
        req.provider != NULL ? "TLSPassPhraseProvider: wrong passphrase" :
        "wrong passphrase",
      xerrno == ENOKEY ? ")" : "");
    return -1;
  }

  /* A passphrase typed here must open the key again at the next restart,
   * which has no terminal: one that cannot be kept stops the start now,
   * not the daemon at the next SIGHUP. */
  if (ftps_passphrase_remember(&req) < 0 &&
      req.prompted) {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s (server '%s'): the "
      "passphrase typed cannot be kept for restarts (%s); use "
      "TLSPassPhraseProvider", directive, path, server_name(s),
      strerror(errno));
    return -1;
  }
  return 0;
}

/* load_keypair - the certificate of one directive pair, with its key and
 * the server's chain file; 1 loaded, 0 not configured, -1 failed */
static int load_keypair(server_rec *s, int i, struct ftps_keypair *kp,
    int reload) {
  const char *cert_path, *key_path, *chain_path, *type;
  struct ftps_error err;

  cert_path = get_param_ptr(s->conf, cert_directives[i].cert_directive, FALSE);
  key_path = get_param_ptr(s->conf, cert_directives[i].key_directive, FALSE);
  if (cert_path == NULL) {
    if (key_path != NULL) {
      load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s (server '%s'): no %s "
        "goes with it", cert_directives[i].key_directive, key_path,
        server_name(s), cert_directives[i].cert_directive);
      return -1;
    }
    return 0;
  }

  if (read_file(s, kp, cert_directives[i].cert_directive, cert_path,
        cert_directives[i].key_type, reload) < 0 ||
      (key_path != NULL &&
       read_file(s, kp, cert_directives[i].key_directive, key_path,
         cert_directives[i].key_type, reload) < 0)) {
    return -1;
  }

  chain_path = get_param_ptr(s->conf, "TLSCertificateChainFile", FALSE);
  if (chain_path != NULL) {
    int res;

    PRIVS_ROOT
    res = ftps_keypair_read_chain_file(kp, chain_path, &err);
    PRIVS_RELINQUISH
    if (res < 0) {
      load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSCertificateChainFile %s "
        "(server '%s'): %s", chain_path, server_name(s), err.msg);
      return -1;
    }
  }

  if (ftps_keypair_check(kp, &err) < 0) {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s %s%s%s (server '%s'): %s",
      cert_directives[i].cert_directive, cert_path,
      key_path ? ", key file " : "", key_path ? key_path : "",
      server_name(s), err.msg);
    return -1;
  }

  ftps_renew_warn_keypair(s, kp, cert_directives[i].cert_directive,
    cert_path);
  type = ftps_keypair_key_type(kp);
  if (type != NULL &&
      strcmp(type, cert_directives[i].key_type) != 0) {
    load_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": %s %s (server '%s') holds "
      "an %s certificate; it is used as such",
      cert_directives[i].cert_directive, cert_path, server_name(s), type);
  }
  return 1;
}

/* load_pkcs12 - TLSPKCS12File: its certificate takes the RSA or EC slot
 * of kps; 0 also when not configured, -1 failed */
static int load_pkcs12(server_rec *s, struct ftps_keypair *kps,
    int reload) {
  const char *path = get_param_ptr(s->conf, "TLSPKCS12File", FALSE);
  const char *type;
  struct ftps_keypair kp;
  struct ftps_error err;
  int i;

  if (path == NULL) {
    return 0;
  }
  ftps_keypair_init(&kp);
  if (read_file(s, &kp, "TLSPKCS12File", path, PKCS12_KEY_TYPE,
      reload) < 0) {
    return -1;
  }
  if (ftps_keypair_check(&kp, &err) < 0) {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSPKCS12File %s (server "
      "'%s'): %s", path, server_name(s), err.msg);
    ftps_keypair_free(&kp);
    return -1;
  }

  type = ftps_keypair_key_type(&kp);
  for (i = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
    if (type != NULL &&
        strcmp(type, cert_directives[i].key_type) == 0) {
      /* As with mod_tls, which loads it last: it takes the place of the
       * certificate of the same type. */
      if (kps[i].cert != NULL) {
        load_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSPKCS12File %s "
          "(server '%s') holds an %s certificate: it is served instead of "
          "the %s", path, server_name(s), type,
          cert_directives[i].cert_directive);
        ftps_keypair_free(&kps[i]);
      }
      ftps_renew_warn_keypair(s, &kp, "TLSPKCS12File", path);
      kps[i] = kp;
      return 1;
    }
  }

  load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSPKCS12File %s (server "
    "'%s') holds a %s certificate: only RSA and EC certificates are "
    "served", path, server_name(s), type != NULL ? type : "unknown");
  ftps_keypair_free(&kp);
  return -1;
}

/* no_certificate - TLSEngine on and nothing to serve: never run such a
 * server (AUTH would be refused and logins would go on in clear); the
 * message names what was configured instead, if anything */
static int no_certificate(server_rec *s) {
  const char *dsa = get_param_ptr(s->conf, "TLSDSACertificateFile", FALSE);

  if (dsa != NULL) {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSDSACertificateFile %s "
      "(server '%s'): DSA certificates are not supported (TLS 1.3 has no "
      "DSA, and TLS 1.2 clients no longer offer it), and the server has no "
      "other certificate: configure TLSRSACertificateFile, "
      "TLSECCertificateFile or TLSPKCS12File", dsa, server_name(s));

  } else {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSEngine on (server '%s'): "
      "no certificate is configured: add TLSRSACertificateFile, "
      "TLSECCertificateFile or TLSPKCS12File, or set TLSEngine off",
      server_name(s));
  }
  return -1;
}

/* verify_server - TLSVerifyServer: verify the peer's certificate when we
 * are the TLS client (SSCN)?  On by default, as with mod_tls. */
static int verify_server(server_rec *s) {
  int *verify = get_param_ptr(s->conf, "TLSVerifyServer", FALSE);

  return verify != NULL ? *verify : TRUE;
}

/* ciphers_of - the TLSCipherSuite lists of s (NULL: default) */
static void ciphers_of(server_rec *s, struct ftps_context_props *props) {
  config_rec *c;

  c = find_config(s->conf, CONF_PARAM, "TLSCipherSuite", FALSE);
  while (c != NULL) {
    if (c->argv[1] != NULL) {
      props->ciphersuites = c->argv[0];

    } else {
      props->ciphers = c->argv[0];
    }
    c = find_config_next(c, c->next, CONF_PARAM, "TLSCipherSuite", FALSE);
  }
}

/* int_param - an int directive of s, or dflt */
static int int_param(server_rec *s, const char *directive, int dflt) {
  int *value = get_param_ptr(s->conf, directive, FALSE);

  return value != NULL ? *value : dflt;
}

/* client_props_of - client certificates, DH, tickets, ALPN and the
 * TLSOptions that shape the SSL_CTX */
static void client_props_of(server_rec *s, struct ftps_context_props *props) {
  unsigned long opts = ftps_server_options(s);

  props->verify_client = int_param(s, "TLSVerifyClient", FTPS_VERIFY_OFF);
  props->verify_depth = int_param(s, "TLSVerifyDepth", -1);
  props->ca_path = get_param_ptr(s->conf, "TLSCACertificatePath", FALSE);
  props->crl_file = get_param_ptr(s->conf, "TLSCARevocationFile", FALSE);
  props->crl_path = get_param_ptr(s->conf, "TLSCARevocationPath", FALSE);
  props->dh_file = get_param_ptr(s->conf, "TLSDHParamFile", FALSE);
  props->tickets = int_param(s, "TLSSessionTickets", TRUE);
  props->alpn = int_param(s, "TLSNextProtocol", TRUE);
  props->alpn_any = (opts & FTPS_OPT_ALLOW_ANY_ALPN) != 0;
  props->allow_weak_dh = (opts & FTPS_OPT_ALLOW_WEAK_DH) != 0;
  props->weak_security = (opts & FTPS_OPT_ALLOW_WEAK_SECURITY) != 0;
  props->client_renegotiation =
    (opts & FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION) != 0;

  if (props->verify_client == FTPS_VERIFY_OFF &&
      (opts & (FTPS_OPT_COMMON_NAME_REQUIRED|FTPS_OPT_DNS_NAME_REQUIRED|
               FTPS_OPT_IP_ADDRESS_REQUIRED))) {
    load_log(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s': TLSOptions "
      "CommonNameRequired, dNSNameRequired and iPAddressRequired check "
      "client certificates, and TLSVerifyClient is off: ignored",
      server_name(s));
  }
}

/* context_error - log why ftps_context_new failed, naming the directive */
static void context_error(server_rec *s, int what, int index,
    const struct ftps_error *err) {
  const char *directive, *file = NULL;
  int i, n, names_file;

  directive = ftps_context_err_directive(what, &names_file);
  if (what == FTPS_CONTEXT_ERR_KEYPAIR) {
    /* The index counts the configured pairs, in cert_directives order:
     * find the directive of the index-th one, and name its file. */
    directive = cert_directives[index].cert_directive;
    for (i = 0, n = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
      const char *path = get_param_ptr(s->conf,
        cert_directives[i].cert_directive, FALSE);

      if (path != NULL &&
          n++ == index) {
        directive = cert_directives[i].cert_directive;
        file = path;
        break;
      }
    }

  } else if (names_file) {
    file = get_param_ptr(s->conf, directive, FALSE);
  }

  load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": %s%s%s (server '%s'): %s",
    directive, file != NULL ? " " : "", file != NULL ? file : "",
    server_name(s), err->msg);
}

/* server_props_of - the context properties of s, but its keypairs */
static void server_props_of(server_rec *s, struct ftps_context_props *props) {
  unsigned int *protos = get_param_ptr(s->conf, "TLSProtocol", FALSE);
  int *pref = get_param_ptr(s->conf, "TLSServerCipherPreference", FALSE);
  char proto_str[64];

  props->protocols = protos != NULL ? *protos : FTPS_PROTO_DEFAULT;
  props->ca_file = get_param_ptr(s->conf, "TLSCACertificateFile", FALSE);
  ciphers_of(s, props);
  props->session_cache_off = !ftps_server_session_cache(s,
    &props->session_timeout);
  props->groups = get_param_ptr(s->conf, "TLSECDHCurve", FALSE);
  props->server_preference = pref != NULL ? *pref : TRUE;
  client_props_of(s, props);

  pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": server '%s': %s",
    server_name(s), ftps_config_protocols_str(props->protocols, proto_str,
    sizeof(proto_str)));
}

/* ready - what a new context of s needs before sessions use it, at a
 * start, a restart or a renewal: SNI, and OpenSSL's state warmed before
 * any session is forked (ftps/warmup.h) */
static void ready(server_rec *s, SSL_CTX *ctx) {
  ftps_sni_install(ctx);
  pr_log_debug(DEBUG5, MOD_FTPS_VERSION ": server '%s': %d warm-up "
    "handshakes", server_name(s), ftps_warmup_run(ctx));
}

/* remember - s's contexts (NULL: none, the server refuses sessions),
 * ready for its sessions */
static struct server_tls *remember(server_rec *s, SSL_CTX *ctx,
    SSL_CTX *client_ctx, struct ftps_material *m) {
  struct server_tls *st;

  if (ctx != NULL) {
    ready(s, ctx);
  }
  st = pcalloc(server_pool, sizeof(*st));
  st->server = s;
  st->ctx = ctx;
  st->client_ctx = client_ctx;
  st->material = m;
  st->next = servers;
  servers = st;
  return st;
}

/* load_keypairs - read and check every certificate of s into kps, those
 * configured first, in cert_directives order (logged on failure); the
 * number of keypairs, or -1 */
static int load_keypairs(server_rec *s, struct ftps_keypair *kps,
    int reload) {
  struct ftps_keypair read[FTPS_CONTEXT_MAX_KEYPAIRS];
  int i, n = 0, res = 0;

  for (i = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
    ftps_keypair_init(&read[i]);
  }
  for (i = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS && res == 0; i++) {
    if (load_keypair(s, i, &read[i], reload) < 0) {
      res = -1;
    }
  }
  if (res == 0 &&
      load_pkcs12(s, read, reload) < 0) {
    res = -1;
  }

  for (i = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
    if (res == 0 && read[i].cert != NULL) {
      kps[n++] = read[i];

    } else {
      ftps_keypair_free(&read[i]);
    }
  }
  if (res == 0 &&
      n == 0) {
    res = no_certificate(s);
  }
  return res < 0 ? -1 : n;
}

/* ctx_free - free a server context while the others live on (a
 * renewal, a failed build): with what hangs off it, its CRL store and its
 * binding scope, which a restart would free for all contexts at once */
static void ctx_free(SSL_CTX *ctx) {
  if (ctx != NULL) {
    ftps_verify_release(ctx);
    ftps_binding_forget(ctx);
    SSL_CTX_free(ctx);
  }
}

/* build_ctx - s's contexts with these n keypairs; 0, or -1 (logged) */
static int build_ctx(server_rec *s, struct ftps_keypair *kps, int n,
    SSL_CTX **ctx, SSL_CTX **client_ctx) {
  struct ftps_context_props props;
  struct ftps_error err;
  int i, what = 0, index = 0;

  ftps_context_props_init(&props);
  for (i = 0; i < n; i++) {
    props.keypairs[props.nkeypairs++] = &kps[i];
  }
  server_props_of(s, &props);

  PRIVS_ROOT
  *ctx = ftps_context_new(&props, &what, &index, &err);
  *client_ctx = *ctx != NULL ? ftps_context_new_client(&props,
    verify_server(s), &err) : NULL;
  PRIVS_RELINQUISH
  if (*ctx == NULL) {
    context_error(s, what, index, &err);
    return -1;
  }
  if (*client_ctx == NULL) {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSVerifyServer (server "
      "'%s'): %s", server_name(s), err.msg);
    ctx_free(*ctx);
    *ctx = NULL;
    return -1;
  }
  /* Every context, also one rebuilt by a renewal, takes the master's
   * ticket keys and its vhost's stable scope. */
  if (ftps_tickets_ctx(s, *ctx, &props) < 0) {
    ctx_free(*ctx);
    SSL_CTX_free(*client_ctx);
    *ctx = *client_ctx = NULL;
    return -1;
  }
  return 0;
}

/* unservable - the TLS versions (FTPS_WARMUP_*) in which a renewal's new
 * context ctx completes no test handshake (ftps/warmup.h), where one built
 * from m's last good material does; 0 when none.  A certificate that
 * passes every file check and that no client can be served with (a
 * brainpool curve), or none of one version (an RSA key where TLSCipherSuite
 * has ECDSA suites only for TLS 1.2), would be an outage. */
static int unservable(server_rec *s, struct ftps_material *m, SSL_CTX *ctx) {
  SSL_CTX *old = NULL, *old_client = NULL;
  int served, lost;

  /* Served in every version: no need to build the old context. */
  served = ftps_warmup_probe(ctx);
  if (served == (FTPS_WARMUP_TLS13|FTPS_WARMUP_TLS12) ||
      m->nkps == 0 ||
      build_ctx(s, m->kps, m->nkps, &old, &old_client) < 0) {
    return 0;
  }
  lost = ftps_warmup_probe(old) & ~served;
  ctx_free(old);
  SSL_CTX_free(old_client);
  return lost;
}

/* try_material - read and check s's files now, and build its contexts
 * from them; on success they become m's last good material.  0, or -1
 * (logged). */
static int try_material(server_rec *s, struct ftps_material *m,
    const struct ftps_reload_files *files, int reload, SSL_CTX **ctx,
    SSL_CTX **client_ctx) {
  struct ftps_keypair kps[FTPS_CONTEXT_MAX_KEYPAIRS];
  int i, n, lost;

  for (i = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
    ftps_keypair_init(&kps[i]);
  }
  n = load_keypairs(s, kps, reload);
  if (n >= 0 &&
      reload &&
      ftps_renew_refused(s, m, kps, n) < 0) {
    n = -1;
  }
  if (n >= 0 &&
      build_ctx(s, kps, n, ctx, client_ctx) < 0) {
    n = -1;
  }
  if (n >= 0 &&
      reload &&
      ftps_renew_crl_refused(s, m, *ctx, TRUE) < 0) {
    ctx_free(*ctx);
    SSL_CTX_free(*client_ctx);
    *ctx = *client_ctx = NULL;
    n = -1;
  }
  if (n >= 0 &&
      reload &&
      (lost = unservable(s, m, *ctx)) != 0) {
    ftps_renew_unservable(s, kps, n, (lost & FTPS_WARMUP_TLS13) ?
      ((lost & FTPS_WARMUP_TLS12) ? "TLS" : "TLSv1.3") : "TLSv1.2");
    ctx_free(*ctx);
    SSL_CTX_free(*client_ctx);
    *ctx = *client_ctx = NULL;
    n = -1;
  }
  if (n >= 0) {
    ftps_renew_taken(s, m, kps, n, files);
    m->ncrls = ftps_verify_crl_marks(*ctx, m->crls,
      FTPS_VERIFY_MAX_CRL_MARKS);
  }

  /* The contexts and m hold their own references; these copies go. */
  for (i = 0; i < FTPS_CONTEXT_MAX_KEYPAIRS; i++) {
    ftps_keypair_free(&kps[i]);
  }
  return n >= 0 ? 0 : -1;
}

/* load_server - build the SSL_CTX of one server.  At the first start, -1
 * (logged) when that fails or the server has no certificate.  At a
 * restart, a server whose new material fails keeps its last good
 * material, and one that has none refuses sessions until the watcher
 * finds good files: the daemon serves on (0). */
static int load_server(server_rec *s, int restart) {
  struct ftps_reload_files files;
  struct ftps_material *m;
  SSL_CTX *ctx = NULL, *client_ctx = NULL;
  int hung = FALSE;

  m = ftps_renew_claim(s);
  if (m == NULL) {
    return -1;
  }
  ftps_renew_files(s, &files);
  server_hung = FALSE;
  if (try_material(s, m, &files, restart, &ctx, &client_ctx) < 0) {
    if (!restart) {
      return -1;
    }
    m->failed = files;
    hung = server_hung;
    if (m->nkps > 0 &&
        build_ctx(s, m->kps, m->nkps, &ctx, &client_ctx) == 0 &&
        ftps_renew_crl_refused(s, m, ctx, FALSE) == 0) {
      ftps_renew_kept(s, m);

    } else {
      /* The last good certificates with CRLs that accept what the last
       * good ones refused: no session, rather than that. */
      ctx_free(ctx);
      SSL_CTX_free(client_ctx);
      ctx = client_ctx = NULL;
      load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": server '%s' has no usable "
        "certificate or CA/CRL file (see above): its sessions are refused "
        "until its files pass every check", server_name(s));
    }
  }
  remember(s, ctx, client_ctx, m)->provider_hung = hung;
  ftps_renew_warn_expiry(s, m, FALSE);
  return 0;
}

/* renew_server - FTPSCertificateWatch: st's files changed since their
 * material was read: read them, and when they pass every check, the
 * sessions forked from now on get the new contexts (running ones keep
 * theirs).  1 renewed, 0 not. */
static int renew_server(struct server_tls *st,
    const struct ftps_reload_files *files) {
  SSL_CTX *ctx = NULL, *client_ctx = NULL;

  server_hung = FALSE;
  if (try_material(st->server, st->material, files, TRUE, &ctx,
      &client_ctx) < 0) {
    st->material->failed = *files;
    st->provider_hung = server_hung;
    if (server_hung) {
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": server '%s': "
        "TLSPassPhraseProvider gave no passphrase in time: these files are "
        "read again once they change, or at a restart",
        server_name(st->server));
    }
    if (st->ctx != NULL) {
      ftps_renew_kept(st->server, st->material);
    }
    return 0;
  }

  ctx_free(st->ctx);
  SSL_CTX_free(st->client_ctx);
  ready(st->server, ctx);
  st->ctx = ctx;
  st->client_ctx = client_ctx;
  st->provider_hung = FALSE;

  /* A new certificate is warned about when taken, as at a start: a
   * short-lived one would otherwise go unsaid until the next daily look.
   * The same one read again (its files touched) is not said twice. */
  if (st->material->renewed > 0) {
    ftps_renew_warn_expiry(st->server, st->material, FALSE);
  }
  return 1;
}

/* watch_due - should the watcher read st's files (as they are now)?
 * Not when they are those read last, nor when they are those that failed
 * on a provider that gave no answer: asking it again at every look would
 * hold the master up (up to 10 seconds each time) for good. */
static int watch_due(const struct server_tls *st,
    const struct ftps_reload_files *files) {
  if (ftps_reload_files_same(files, &st->material->files)) {
    return FALSE;
  }
  return !(st->provider_hung &&
    ftps_reload_files_same(files, &st->material->failed));
}

int ftps_server_watch_pending(void) {
  struct server_tls *st;
  int n = 0;

  for (st = servers; st != NULL; st = st->next) {
    struct ftps_reload_files files;

    ftps_renew_files(st->server, &files);
    if (watch_due(st, &files)) {
      n++;
    }
  }
  return n;
}

int ftps_server_watch(void) {
  struct server_tls *st;
  int renewed = 0;

  provider_hung = provider_answered = FALSE;
  for (st = servers; st != NULL; st = st->next) {
    struct ftps_reload_files files;

    ftps_renew_files(st->server, &files);
    if (!watch_due(st, &files)) {
      continue;
    }

    /* Files that failed are tried again at each look, since what made
     * them fail may lie elsewhere (the passphrase provider's answer); what
     * was logged about them is not logged again. */
    ftps_renew_quiet(ftps_reload_files_same(&files, &st->material->failed));
    renewed += renew_server(st, &files);
    ftps_renew_quiet(FALSE);
  }

  /* A provider that answers again (it opened a key in this look, and hung
   * on none): the files held after it hung are read at the next look. */
  if (provider_answered &&
      !provider_hung) {
    ftps_server_watch_unhold();
  }
  return renewed;
}

void ftps_server_watch_unhold(void) {
  struct server_tls *st;

  for (st = servers; st != NULL; st = st->next) {
    st->provider_hung = FALSE;
  }
}

void ftps_server_warn_expiry(void) {
  struct server_tls *st;

  for (st = servers; st != NULL; st = st->next) {
    ftps_renew_warn_expiry(st->server, st->material, TRUE);
  }
}

int ftps_server_unavailable(server_rec *s) {
  struct server_tls *st = server_find(s);

  return st != NULL && st->ctx == NULL;
}

/* per_user_exception - can the user's configuration lift "TLSRequired
 * auth"?  mod_ifsession is loaded (an <IfUser>, <IfGroup> or <IfClass> may
 * set another TLSRequired), or an <Anonymous> or <Directory> of s has a
 * TLSRequired without auth.  mod_tls then runs the configuration. */
static int per_user_exception(server_rec *s) {
  config_rec *c;

  if (pr_module_exists("mod_ifsession.c")) {
    return TRUE;
  }

  c = find_config(s->conf, CONF_PARAM, "TLSRequired", TRUE);
  while (c != NULL) {
    const struct ftps_required *req = c->argv[0];

    if (c->parent != NULL &&
        (c->parent->config_type == CONF_ANON ||
         c->parent->config_type == CONF_DIR) &&
        req != NULL &&
        !req->auth) {
      return TRUE;
    }
    c = find_config_next(c, c->next, CONF_PARAM, "TLSRequired", TRUE);
  }
  return FALSE;
}

/* check_policy - directive combinations that cannot work */
static int check_policy(server_rec *s) {
  struct ftps_required *req = get_param_ptr(s->conf, "TLSRequired", FALSE);

  /* "auth" protects only USER and PASS, and AllowPerUser waits for them to
   * pass before it applies TLSRequired: with no user for whom the rule can
   * differ, together they protect nothing (mod_tls refuses this too). */
  if ((ftps_server_options(s) & FTPS_OPT_ALLOW_PER_USER) &&
      req != NULL &&
      req->auth &&
      !req->ctrl &&
      !per_user_exception(s)) {
    load_log(PR_LOG_ERR, MOD_FTPS_VERSION ": TLSOptions AllowPerUser "
      "(server '%s') cannot enforce TLSRequired auth for every user: use "
      "TLSRequired ctrl, drop AllowPerUser, or give some users (<Anonymous>, "
      "mod_ifsession) another TLSRequired", server_name(s));
    return -1;
  }
  return 0;
}

/* probe_kernel_tls - ask the kernel once per (re)start, in the master,
 * whether it offers kernel TLS, when a server would use it */
static void probe_kernel_tls(void) {
  server_rec *s;

  for (s = (server_rec *) server_list->xas_list; s != NULL; s = s->next) {
    if (ftps_server_engine(s) &&
        ftps_server_kernel_tls(s)) {
      break;
    }
  }
  if (s == NULL) {
    return;
  }

  if (ftps_ktls_probe()) {
    pr_log_pri(PR_LOG_INFO, MOD_FTPS_VERSION ": kernel TLS available: "
      "protected data connections use it where OpenSSL can hand it the "
      "connection's cipher");

  } else {
    pr_log_pri(PR_LOG_INFO, MOD_FTPS_VERSION ": kernel TLS unavailable (%s): "
      "data connections use user-space TLS", ftps_ktls_reason());
  }
}

int ftps_server_load_all(void) {
  server_rec *s;
  int res = 0, restart;

  ftps_server_free_all();
  server_pool = make_sub_pool(permanent_pool);
  pr_pool_tag(server_pool, MOD_FTPS_VERSION " server pool");

  /* The last good material of a restart's predecessor, if any. */
  restart = ftps_reload_attach();
  provider_hung = FALSE;

  for (s = (server_rec *) server_list->xas_list; s != NULL; s = s->next) {
    if (ftps_server_engine(s) &&
        (check_policy(s) < 0 || load_server(s, restart) < 0)) {
      res = -1;
    }
  }
  ftps_reload_prune();

  probe_kernel_tls();
  return res;
}

void ftps_server_free_all(void) {
  struct server_tls *st;

  for (st = servers; st != NULL; st = st->next) {
    if (st->ctx != NULL) {
      ftps_verify_release(st->ctx);
    }
    SSL_CTX_free(st->ctx);
    SSL_CTX_free(st->client_ctx);
  }
  servers = NULL;
  ftps_binding_release();

  if (server_pool != NULL) {
    destroy_pool(server_pool);
    server_pool = NULL;
  }
}

void ftps_server_restart(void) {
  ftps_server_free_all();

  /* The new copy of the module takes the last good material back. */
  if (ftps_reload_stash() < 0) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": cannot keep the last "
      "good certificates for the restart (%s): a bad certificate found "
      "there stops the daemon", strerror(errno));
  }
}

void ftps_server_unload(void) {
  ftps_server_free_all();
  ftps_reload_free_all();
}

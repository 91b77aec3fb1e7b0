/*
 * directives.c - mod_ftps's configuration directives.
 *
 * The names and grammar are mod_tls's, so that a configuration written for
 * mod_tls loads unchanged.  Handlers check syntax and store parsed values;
 * files are loaded and cross-checked once, at startup, by server.c.
 */
#include "mod_ftps.h"
#include "ftps/alias.h"
#include "ftps/compat.h"
#include "ftps/config.h"
#include "ftps/context.h"
#include "ftps/peer.h"
#include "ftps/stapling.h"
#include "ftps/tickets.h"

#include <openssl/err.h>
#include <openssl/http.h>

static unsigned int conf_errors = 0;

modret_t *ftps_conf_error(cmd_rec *cmd, const char *msg) {
  conf_errors++;
  return PR_ERROR_MSG(cmd, NULL, pstrcat(cmd->tmp_pool, cmd->argv[0], ": ",
    msg, NULL));
}

unsigned int ftps_conf_errors(void) {
  return conf_errors;
}

void ftps_conf_errors_reset(void) {
  conf_errors = 0;
}

/* check_path - directive arguments that name files must be absolute:
 * sessions may chroot, and a relative path would then mean another file. */
static const char *check_path(cmd_rec *cmd) {
  const char *path = cmd->argv[1];

  if (*path != '/') {
    return pstrcat(cmd->tmp_pool, "'", path, "' must be an absolute path",
      NULL);
  }
  return NULL;
}

/* add_int_param - store one int as the directive's only value */
static void add_int_param(cmd_rec *cmd, int value) {
  config_rec *c = add_config_param(cmd->argv[0], 1, NULL);

  c->argv[0] = pcalloc(c->pool, sizeof(int));
  *((int *) c->argv[0]) = value;
}

/* usage: TLSCACertificateFile, TLSCACertificatePath, TLSCARevocationFile,
 *   TLSCARevocationPath, TLSCertificateChainFile, TLSDHParamFile,
 *   TLSECCertificateFile, TLSECCertificateKeyFile, TLSPKCS12File,
 *   TLSRSACertificateFile, TLSRSACertificateKeyFile: path */
MODRET set_tlsfile(cmd_rec *cmd) {
  const char *problem;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  problem = check_path(cmd);
  if (problem != NULL) {
    CONF_ERROR(cmd, problem);
  }

  /* OpenSSL only looks into a hashed directory when it needs a
   * certificate or CRL, so a missing one would go unnoticed until a client
   * certificate fails to verify: check it now, as mod_tls does. */
  if (strcasecmp(cmd->argv[0], "TLSCACertificatePath") == 0 ||
      strcasecmp(cmd->argv[0], "TLSCARevocationPath") == 0) {
    struct stat st;

    if (stat(cmd->argv[1], &st) < 0) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "cannot use '",
        (char *) cmd->argv[1], "': ", strerror(errno), NULL));
    }
    if (!S_ISDIR(st.st_mode)) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "'", (char *) cmd->argv[1],
        "' is not a directory", NULL));
    }
  }

  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSCipherSuite [TLSv1.3] cipher-list */
MODRET set_tlsciphersuite(cmd_rec *cmd) {
  const char *list, *proto = NULL;

  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  if (cmd->argc == 3) {
    proto = cmd->argv[1];
    list = cmd->argv[2];
    if (strcasecmp(proto, "TLSv1.3") != 0) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "unknown protocol '", proto,
        "' (only TLSv1.3 has its own ciphersuites)", NULL));
    }

  } else if (cmd->argc == 2) {
    list = cmd->argv[1];

  } else {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  add_config_param_str(cmd->argv[0], 2, list, proto);
  return PR_HANDLED(cmd);
}

/* usage: TLSEngine, TLSNextProtocol, TLSServerCipherPreference,
 *   TLSSessionTickets, FTPSKernelTLS: on|off */
MODRET set_tlsbool(cmd_rec *cmd) {
  int value;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  value = get_boolean(cmd, 1);
  if (value == -1) {
    CONF_ERROR(cmd, "expected Boolean parameter");
  }

  add_int_param(cmd, value);
  return PR_HANDLED(cmd);
}

/* usage: TLSLog path|none
 * mod_tls accepts a relative path, which the daemon (whose directory is /)
 * opens as /path: accepted the same way, with a warning, so that such a
 * configuration still starts. */
MODRET set_tlslog(cmd_rec *cmd) {
  const char *path;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  path = cmd->argv[1];
  if (strcasecmp(path, "none") != 0 &&
      *path != '/') {
    path = pdircat(cmd->tmp_pool, "/", path, NULL);
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSLog '%s' is a relative "
      "path; using %s", (char *) cmd->argv[1], path);
  }

  add_config_param_str(cmd->argv[0], 1, path);
  return PR_HANDLED(cmd);
}

/* usage: TLSMasqueradeAddress ip|name|device
 * Read by mod_core, not by us: PASV and EPSV replies of FTPS sessions
 * advertise this address, because a NAT device cannot rewrite replies it
 * cannot read.  The record's shape is mod_core's contract: argv[0] the
 * resolved pr_netaddr_t, argv[1] the name as written. */
MODRET set_tlsmasqueradeaddress(cmd_rec *cmd) {
  const pr_netaddr_t *addr;
  config_rec *c;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL);

  addr = pr_netaddr_get_addr2(cmd->server->pool, cmd->argv[1], NULL,
    PR_NETADDR_GET_ADDR_FL_INCL_DEVICE);
  if (addr == NULL) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "unable to resolve '",
      (char *) cmd->argv[1], "'", NULL));
  }

  c = add_config_param(cmd->argv[0], 2, (void *) addr, NULL);
  c->argv[1] = pstrdup(c->pool, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSOptions opt1 ... */
MODRET set_tlsoptions(cmd_rec *cmd) {
  unsigned long opts = 0UL, bit;
  struct ftps_error err;
  config_rec *c;

  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (cmd->argc < 2) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  if (ftps_config_parse_options(cmd->argc - 1,
      (const char *const *) cmd->argv + 1, &opts, &err) < 0) {
    CONF_ERROR(cmd, pstrdup(cmd->tmp_pool, err.msg));
  }

  /* Accept what we cannot honour yet, loudly: a configuration written for
   * mod_tls must not stop the server. */
  for (bit = 1; bit <= FTPS_OPT_LAST; bit <<= 1) {
    if ((opts & bit) == 0 ||
        (bit & FTPS_OPT_IMPLEMENTED)) {
      continue;
    }

    if (bit == FTPS_OPT_NO_CERT_REQUEST) {
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSOptions "
        "NoCertRequest is obsolete (no client certificate is requested "
        "unless TLSVerifyClient says so); ignored");

    } else if (bit == FTPS_OPT_NO_EMPTY_FRAGMENTS) {
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSOptions "
        "NoEmptyFragments is ignored: empty fragments only ever served "
        "TLS 1.0, which mod_ftps does not enable unless asked");

    } else {
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSOptions NoAutoECDH "
        "is ignored: OpenSSL 3 always picks the key exchange group; use "
        "TLSECDHCurve to choose the groups");
    }
  }

  c = add_config_param(cmd->argv[0], 1, NULL);
  c->argv[0] = pcalloc(c->pool, sizeof(unsigned long));
  *((unsigned long *) c->argv[0]) = opts;
  c->flags |= CF_MERGEDOWN_MULTI;
  return PR_HANDLED(cmd);
}

/* usage: TLSPassPhraseProvider path */
MODRET set_tlspassphraseprovider(cmd_rec *cmd) {
  const char *problem;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT);

  problem = check_path(cmd);
  if (problem != NULL) {
    CONF_ERROR(cmd, problem);
  }
  if (access(cmd->argv[1], X_OK) < 0) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "cannot run '",
      (char *) cmd->argv[1], "': ", strerror(errno), NULL));
  }

  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSProtocol version1 ... versionN */
MODRET set_tlsprotocol(cmd_rec *cmd) {
  unsigned int protos = 0;
  int ignored = 0;
  struct ftps_error err;
  config_rec *c;

  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (cmd->argc < 2) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  if (ftps_config_parse_protocols(cmd->argc - 1,
      (const char *const *) cmd->argv + 1, &protos, &ignored, &err) < 0) {
    CONF_ERROR(cmd, pstrdup(cmd->tmp_pool, err.msg));
  }

  if (ignored) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
      ": TLSProtocol: SSLv3 is broken and never enabled; ignored");
  }
  if (protos & (FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_1)) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSProtocol: TLSv1 and "
      "TLSv1.1 are obsolete and insecure (RFC 8996); clients of these "
      "versions also need ciphers they know (the default list is TLS 1.2 "
      "AEAD only: TLSCipherSuite DEFAULT:!ADH:!EXPORT:!DES) and OpenSSL's "
      "security level 0 (TLSOptions AllowWeakSecurity)");
  }

  c = add_config_param(cmd->argv[0], 1, NULL);
  c->argv[0] = pcalloc(c->pool, sizeof(unsigned int));
  *((unsigned int *) c->argv[0]) = protos;
  return PR_HANDLED(cmd);
}

/* usage: TLSRenegotiate none | [ctrl secs] [data kb] [required on|off]
 *   [timeout secs]
 * Honoured as TLS 1.3 key updates (see ftps/config.h); the two knobs that
 * only govern waiting for a TLS 1.2 renegotiation say so. */
MODRET set_tlsrenegotiate(cmd_rec *cmd) {
  struct ftps_rekey rekey;
  struct ftps_error err;
  config_rec *c;

  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (cmd->argc < 2) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  if (ftps_config_parse_renegotiate(cmd->argc - 1,
      (const char *const *) cmd->argv + 1, &rekey, &err) < 0) {
    CONF_ERROR(cmd, pstrdup(cmd->tmp_pool, err.msg));
  }

  if (rekey.required == TRUE ||
      rekey.timeout > 0) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSRenegotiate: "
      "'required' and 'timeout' are ignored: mod_ftps never renegotiates "
      "TLS 1.2, and a TLS 1.3 key update needs no answer to wait for");
  }

  c = add_config_param(cmd->argv[0], 1, NULL);
  c->argv[0] = pcalloc(c->pool, sizeof(struct ftps_rekey));
  memcpy(c->argv[0], &rekey, sizeof(rekey));
  return PR_HANDLED(cmd);
}

/* usage: TLSRequired on|off|ctrl|data|!data|auth|... */
MODRET set_tlsrequired(cmd_rec *cmd) {
  struct ftps_required req;
  struct ftps_error err;
  config_rec *c;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL|CONF_ANON|CONF_DIR|
    CONF_DYNDIR);

  if (ftps_config_parse_required(cmd->argv[1], &req, &err) < 0) {
    CONF_ERROR(cmd, pstrdup(cmd->tmp_pool, err.msg));
  }

  c = add_config_param(cmd->argv[0], 1, NULL);
  c->argv[0] = pcalloc(c->pool, sizeof(struct ftps_required));
  memcpy(c->argv[0], &req, sizeof(req));
  c->flags |= CF_MERGEDOWN;
  return PR_HANDLED(cmd);
}

/* usage: TLSVerifyServer on|off|NoReverseDNS
 * mod_ftps checks the peer's address against the certificate and never
 * looks up names, so NoReverseDNS means on. */
MODRET set_tlsverifyserver(cmd_rec *cmd) {
  int verify;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  verify = get_boolean(cmd, 1);
  if (verify == -1) {
    if (strcasecmp(cmd->argv[1], "NoReverseDNS") != 0) {
      CONF_ERROR(cmd, "expected on, off or NoReverseDNS");
    }
    verify = TRUE;
  }

  add_int_param(cmd, verify);
  return PR_HANDLED(cmd);
}

/* usage: TLSECDHCurve curve[:curve...] (checked when the context is built) */
MODRET set_tlsecdhcurve(cmd_rec *cmd) {
  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSSessionCache off|type:/info [timeout]
 * Only OpenSSL's cache in each session process ("internal:") exists so
 * far; it is what every session resumes from, with tickets.  Other types
 * (shm:, redis:, memcache:) are accepted and served by it, with a warning. */
MODRET set_tlssessioncache(cmd_rec *cmd) {
  const char *type = cmd->argv[1];
  int timeout = 0, cache_on = TRUE;
  config_rec *c;

  CHECK_CONF(cmd, CONF_ROOT|CONF_GLOBAL|CONF_VIRTUAL);
  if (cmd->argc < 2 || cmd->argc > 3) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  if (strcasecmp(type, "off") == 0) {
    cache_on = FALSE;

  } else if (strchr(type, ':') == NULL) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "expected off or type:/info, "
      "got '", type, "'", NULL));

  } else if (strncasecmp(type, "internal:", 9) != 0) {
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSSessionCache %s: "
      "external session caches are not supported yet; using the internal "
      "cache", type);
  }

  if (cmd->argc == 3 &&
      (pr_str_get_duration(cmd->argv[2], &timeout) < 0 || timeout <= 0)) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "error parsing timeout value '",
      (char *) cmd->argv[2], "'", NULL));
  }

  c = add_config_param(cmd->argv[0], 2, NULL, NULL);
  c->argv[0] = pcalloc(c->pool, sizeof(int));
  *((int *) c->argv[0]) = cache_on;
  c->argv[1] = pcalloc(c->pool, sizeof(int));
  *((int *) c->argv[1]) = timeout;
  return PR_HANDLED(cmd);
}

/* usage: TLSTimeoutHandshake seconds */
MODRET set_tlstimeouthandshake(cmd_rec *cmd) {
  int timeout = -1;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  if (pr_str_get_duration(cmd->argv[1], &timeout) < 0 ||
      timeout < 0) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "error parsing timeout value '",
      (char *) cmd->argv[1], "'", NULL));
  }

  add_int_param(cmd, timeout);
  return PR_HANDLED(cmd);
}

/* usage: FTPSCertificateWatch on|off|<seconds>
 * mod_ftps's own: how often the master looks for renewed certificate, key
 * and chain files (on: every 60 seconds; off: only at restarts). */
MODRET set_ftpscertificatewatch(cmd_rec *cmd) {
  int secs = -1, on;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_GLOBAL);

  /* A number is a number of seconds, "1" included. */
  on = isdigit((unsigned char) *((char *) cmd->argv[1])) ? -1 :
    get_boolean(cmd, 1);
  if (on != -1) {
    secs = on ? FTPS_CERT_WATCH_DEFAULT : 0;

  } else if (pr_str_get_duration(cmd->argv[1], &secs) < 0 ||
             secs < 1) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "expected on, off or a number "
      "of seconds (1 or more), got '", (char *) cmd->argv[1], "'", NULL));
  }

  add_int_param(cmd, secs);
  return PR_HANDLED(cmd);
}

/* usage: FTPSCertificateExpiryWarning <days>|off
 * mod_ftps's own: warn at startup and daily about certificates that
 * expire within so many days (21 by default). */
MODRET set_ftpscertificateexpirywarning(cmd_rec *cmd) {
  int days = -1;
  char *end = NULL;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_GLOBAL);

  if (isdigit((unsigned char) *((char *) cmd->argv[1])) ||
      get_boolean(cmd, 1) != FALSE) {
    long value = strtol((char *) cmd->argv[1], &end, 10);

    if (end == (char *) cmd->argv[1] || *end != '\0' ||
        value < 1 || value > 3650) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "expected off or a number of "
        "days (1 to 3650), got '", (char *) cmd->argv[1], "'", NULL));
    }
    days = (int) value;
  }

  add_int_param(cmd, days);
  return PR_HANDLED(cmd);
}

/* usage: TLSUserName CommonName|EmailSubjAltName|oid */
MODRET set_tlsusername(cmd_rec *cmd) {
  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  if (!ftps_peer_field_valid(cmd->argv[1])) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "expected CommonName, "
      "EmailSubjAltName or an OID (such as 1.2.840.113549.1.9.1), got '",
      (char *) cmd->argv[1], "'", NULL));
  }

  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSVerifyClient on|off|optional */
MODRET set_tlsverifyclient(cmd_rec *cmd) {
  int verify;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  verify = get_boolean(cmd, 1);
  if (verify == -1) {
    if (strcasecmp(cmd->argv[1], "optional") != 0) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "expected on, off or optional, "
        "got '", (char *) cmd->argv[1], "'", NULL));
    }
    verify = FTPS_VERIFY_OPTIONAL;

  } else {
    verify = verify ? FTPS_VERIFY_ON : FTPS_VERIFY_OFF;
  }

  add_int_param(cmd, verify);
  return PR_HANDLED(cmd);
}

/* usage: TLSVerifyDepth depth */
MODRET set_tlsverifydepth(cmd_rec *cmd) {
  struct ftps_error err;
  int depth = 0;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);

  if (ftps_config_parse_depth(cmd->argv[1], &depth, &err) < 0) {
    CONF_ERROR(cmd, pstrdup(cmd->tmp_pool, err.msg));
  }

  add_int_param(cmd, depth);
  return PR_HANDLED(cmd);
}

/* usage: TLSVerifyOrder crl|ocsp ...
 * CRLs are always checked (TLSCARevocationFile/Path); OCSP for client
 * certificates is not done, which is said once. */
MODRET set_tlsverifyorder(cmd_rec *cmd) {
  unsigned int i;

  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (cmd->argc < 2 || cmd->argc > 3) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }

  for (i = 1; i < cmd->argc; i++) {
    if (strcasecmp(cmd->argv[i], "crl") == 0) {
      continue;
    }
    if (strcasecmp(cmd->argv[i], "ocsp") != 0) {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "unknown mechanism '",
        (char *) cmd->argv[i], "' (expected crl or ocsp)", NULL));
    }
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSVerifyOrder ocsp is "
      "ignored: client certificates are checked against CRLs only");
  }
  return PR_HANDLED(cmd);
}

/* OCSP stapling (stapling.c uses what these store)
 */

/* usage: TLSStapling on|off */
modret_t *set_tlsstapling(cmd_rec *cmd) {
  int on;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  on = get_boolean(cmd, 1);
  if (on == -1) {
    CONF_ERROR(cmd, "expected Boolean parameter");
  }
  add_int_param(cmd, on);
  return PR_HANDLED(cmd);
}

/* usage: TLSStaplingCache type:/info
 * Responses live in the master's memory and reach sessions through fork():
 * no cache module is needed.  The line turns stapling on, as with mod_tls. */
modret_t *set_tlsstaplingcache(cmd_rec *cmd) {
  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT);
  if (strchr(cmd->argv[1], ':') == NULL) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "expected type:/info, got '",
      (char *) cmd->argv[1], "'", NULL));
  }
  pr_log_pri(PR_LOG_NOTICE, MOD_FTPS_VERSION ": TLSStaplingCache %s: not "
    "used: mod_ftps keeps OCSP responses in the master's memory, which "
    "every session inherits; it turns TLSStapling on, as with mod_tls",
    (char *) cmd->argv[1]);
  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSStaplingOptions NoFakeTryLater|NoNonce|NoVerify ...
 * NoFakeTryLater is what mod_ftps always does: it never staples a made-up
 * "tryLater" response (GnuTLS clients fail on one, mod_tls issue 518). */
modret_t *set_tlsstaplingoptions(cmd_rec *cmd) {
  unsigned int i, opts = 0U;
  config_rec *c;

  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (cmd->argc < 2) {
    CONF_ERROR(cmd, "wrong number of parameters");
  }
  for (i = 1; i < cmd->argc; i++) {
    const char *opt = cmd->argv[i];

    if (strcmp(opt, "NoNonce") == 0) {
      opts |= FTPS_STAPLING_OPT_NO_NONCE;

    } else if (strcmp(opt, "NoVerify") == 0) {
      opts |= FTPS_STAPLING_OPT_NO_VERIFY;

    } else if (strcmp(opt, "NoFakeTryLater") == 0) {
      opts |= FTPS_STAPLING_OPT_NO_FAKE_TRY_LATER;

    } else {
      CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "unknown TLSStaplingOption '",
        opt, "'", NULL));
    }
  }
  c = add_config_param(cmd->argv[0], 1, NULL);
  c->argv[0] = palloc(c->pool, sizeof(unsigned int));
  *((unsigned int *) c->argv[0]) = opts;
  return PR_HANDLED(cmd);
}

/* usage: TLSStaplingResponder http://host[:port]/path */
modret_t *set_tlsstaplingresponder(cmd_rec *cmd) {
  int use_ssl = 0;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (OSSL_HTTP_parse_url(cmd->argv[1], &use_ssl, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL) != 1) {
    ERR_clear_error();
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "'", (char *) cmd->argv[1],
      "' is not a URL (expected http://host[:port]/path)", NULL));
  }
  if (use_ssl) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "'", (char *) cmd->argv[1],
      "': OCSP responders are asked over http:// (RFC 6960 appendix A); "
      "https:// is not supported", NULL));
  }
  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

/* usage: TLSStaplingTimeout secs */
modret_t *set_tlsstaplingtimeout(cmd_rec *cmd) {
  int secs;

  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (pr_str_get_duration(cmd->argv[1], &secs) < 0 ||
      secs <= 0) {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "error parsing timeout value '",
      (char *) cmd->argv[1], "'", NULL));
  }
  add_int_param(cmd, secs);
  return PR_HANDLED(cmd);
}

/* usage: FTPSStaplingFile /path/to/response.der
 * A DER OCSP response that an admin's job refreshes; read again whenever it
 * changes, checked like a fetched one, and never asked of the responder. */
modret_t *set_ftpsstaplingfile(cmd_rec *cmd) {
  CHECK_ARGS(cmd, 1);
  CHECK_CONF(cmd, CONF_ROOT|CONF_VIRTUAL|CONF_GLOBAL);
  if (*((char *) cmd->argv[1]) != '/') {
    CONF_ERROR(cmd, pstrcat(cmd->tmp_pool, "'", (char *) cmd->argv[1],
      "' must be an absolute path", NULL));
  }
  add_config_param_str(cmd->argv[0], 1, cmd->argv[1]);
  return PR_HANDLED(cmd);
}

conftable ftps_conftab[] = {
  { "FTPSKernelTLS",            set_tlsbool,             NULL },
  { "FTPSCertificateWatch",     set_ftpscertificatewatch, NULL },
  { "FTPSCertificateExpiryWarning", set_ftpscertificateexpirywarning, NULL },
  { "TLSCACertificateFile",     set_tlsfile,             NULL },
  { "TLSCACertificatePath",     set_tlsfile,             NULL },
  { "TLSCARevocationFile",      set_tlsfile,             NULL },
  { "TLSCARevocationPath",      set_tlsfile,             NULL },
  { "TLSDHParamFile",           set_tlsfile,             NULL },
  { "TLSNextProtocol",          set_tlsbool,             NULL },
  { "TLSSessionTickets",        set_tlsbool,             NULL },
  { "TLSSessionTicketKeys",     set_tlssessionticketkeys, NULL },
  { "TLSUserName",              set_tlsusername,         NULL },
  { "TLSVerifyClient",          set_tlsverifyclient,     NULL },
  { "TLSVerifyDepth",           set_tlsverifydepth,      NULL },
  { "TLSVerifyOrder",           set_tlsverifyorder,      NULL },
  { "TLSCertificateChainFile",  set_tlsfile,             NULL },
  { "TLSCipherSuite",           set_tlsciphersuite,      NULL },
  { "TLSECCertificateFile",     set_tlsfile,             NULL },
  { "TLSECCertificateKeyFile",  set_tlsfile,             NULL },
  { "TLSPKCS12File",            set_tlsfile,             NULL },
  { "TLSECDHCurve",             set_tlsecdhcurve,        NULL },
  { "TLSEngine",                set_tlsbool,             NULL },
  { "TLSLog",                   set_tlslog,              NULL },
  { "TLSMasqueradeAddress",     set_tlsmasqueradeaddress, NULL },
  { "TLSOptions",               set_tlsoptions,          NULL },
  { "TLSPassPhraseProvider",    set_tlspassphraseprovider, NULL },
  { "TLSProtocol",              set_tlsprotocol,         NULL },
  { "TLSRenegotiate",           set_tlsrenegotiate,      NULL },
  { "TLSRequired",              set_tlsrequired,         NULL },
  { "TLSRSACertificateFile",    set_tlsfile,             NULL },
  { "TLSRSACertificateKeyFile", set_tlsfile,             NULL },
  { "TLSServerCipherPreference", set_tlsbool,            NULL },
  { "TLSSessionCache",          set_tlssessioncache,     NULL },
  { "TLSTimeoutHandshake",      set_tlstimeouthandshake, NULL },
  { "TLSVerifyServer",          set_tlsverifyserver,     NULL },
  { "LoadModule",               ftps_alias_loadmodule,   NULL },
  FTPS_COMPAT_CONFTAB,
  FTPS_STAPLING_CONFTAB,
  { NULL, NULL, NULL }
};

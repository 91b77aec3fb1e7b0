/*
 * config.c - parsers for the values of mod_ftps's directives
 * (see ftps/config.h).
 *
 * The grammar is mod_tls's, so that existing configurations keep working;
 * the defaults are mod_ftps's own.  Every parser writes its result only on
 * success, so a caller may pass the current value and keep it on error.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "ftps/config.h"

/* FTPS_CONFIG_FAIL - set err and errno for an invalid value; yields -1.
 * errno is set last, so that formatting the message cannot clobber it. */
#define FTPS_CONFIG_FAIL(err, ...) \
  (ftps_error_set((err), __VA_ARGS__), errno = EINVAL, -1)

/* TLSProtocol */

struct proto_name {
  const char *name;
  unsigned int bits;
  int ignored;          /* accepted for compatibility, never enabled */
};

static const struct proto_name proto_names[] = {
  { "TLSv1",   FTPS_PROTO_TLSV1,   0 },
  { "TLSv1.0", FTPS_PROTO_TLSV1,   0 },
  { "TLSv1.1", FTPS_PROTO_TLSV1_1, 0 },
  { "TLSv1.2", FTPS_PROTO_TLSV1_2, 0 },
  { "TLSv1.3", FTPS_PROTO_TLSV1_3, 0 },
  /* "All" means all the versions we consider safe, not every version
   * OpenSSL can speak: old versions must be asked for by name. */
  { "SSLv23",  FTPS_PROTO_SECURE,  0 },
  { "ALL",     FTPS_PROTO_SECURE,  0 },
  { "SSLv3",   0,                  1 },
  { NULL, 0, 0 }
};

/* Names for ftps_config_protocols_str, in ascending order. */
static const struct proto_name proto_canon[] = {
  { "TLSv1",   FTPS_PROTO_TLSV1,   0 },
  { "TLSv1.1", FTPS_PROTO_TLSV1_1, 0 },
  { "TLSv1.2", FTPS_PROTO_TLSV1_2, 0 },
  { "TLSv1.3", FTPS_PROTO_TLSV1_3, 0 },
  { NULL, 0, 0 }
};

/* proto_lookup - the table entry for a protocol name, or NULL */
static const struct proto_name *proto_lookup(const char *name) {
  const struct proto_name *p;

  for (p = proto_names; p->name != NULL; p++) {
    if (strcasecmp(p->name, name) == 0) {
      return p;
    }
  }
  return NULL;
}

/*
 * The set starts from the first word when it is bare ("ALL -TLSv1.3"), and
 * from FTPS_PROTO_DEFAULT when the first word is a modifier ("+TLSv1.1"),
 * as mod_tls starts from its own default.  Later words apply in order: "-"
 * removes, "+" adds, and a bare name adds too, so "TLSv1.2 TLSv1.3" and
 * "ALL -TLSv1.3 TLSv1.3" both read naturally.
 *
 * SSLv3 is accepted so that old configurations still load, but never
 * enabled.  *ignored reports it only when SSLv3 was asked for (bare or
 * "+SSLv3"): "ALL -SSLv3", the usual mod_tls idiom, already gets exactly
 * what it asks for and deserves no warning.
 */
int ftps_config_parse_protocols(int argc, const char *const *argv,
    unsigned int *protos, int *ignored, struct ftps_error *err) {
  unsigned int set = 0;
  int i, saw_ignored = 0;

  if (argc <= 0 || argv == NULL || protos == NULL) {
    return FTPS_CONFIG_FAIL(err, "TLSProtocol needs at least one protocol");
  }

  for (i = 0; i < argc; i++) {
    const struct proto_name *p;
    const char *word = argv[i], *name;
    int op = 0;

    if (word == NULL) {
      return FTPS_CONFIG_FAIL(err, "missing protocol name");
    }

    name = word;
    if (*name == '+' || *name == '-') {
      op = *name++;
    }

    p = proto_lookup(name);
    if (p == NULL) {
      return FTPS_CONFIG_FAIL(err, "unknown protocol '%s'", word);
    }

    if (i == 0) {
      set = (op == 0) ? 0 : FTPS_PROTO_DEFAULT;
    }

    if (op == '-') {
      set &= ~p->bits;

    } else {
      set |= p->bits;
      if (p->ignored) {
        saw_ignored = 1;
      }
    }
  }

  if (set == 0) {
    return FTPS_CONFIG_FAIL(err, "no protocol left enabled");
  }

  *protos = set;
  if (ignored != NULL) {
    *ignored = saw_ignored;
  }
  return 0;
}

const char *ftps_config_protocols_str(unsigned int protos, char *buf,
    size_t bufsz) {
  const struct proto_name *p;
  size_t used = 0;

  if (buf == NULL || bufsz == 0) {
    return buf;
  }
  buf[0] = '\0';

  for (p = proto_canon; p->name != NULL; p++) {
    const char *s;

    if ((protos & p->bits) == 0) {
      continue;
    }

    /* Copy " name" (no space before the first) byte by byte, always
     * leaving room for the NUL: a short buffer gets a truncated string. */
    if (used > 0 && used + 1 < bufsz) {
      buf[used++] = ' ';
    }
    for (s = p->name; *s != '\0' && used + 1 < bufsz; s++) {
      buf[used++] = *s;
    }
    buf[used] = '\0';
  }

  return buf;
}

/* TLSRequired */

int ftps_config_parse_bool(const char *value) {
  static const char *const truths[] = { "on", "yes", "true", "1", NULL };
  static const char *const lies[] = { "off", "no", "false", "0", NULL };
  int i;

  if (value != NULL) {
    for (i = 0; truths[i] != NULL; i++) {
      if (strcasecmp(value, truths[i]) == 0) {
        return 1;
      }
      if (strcasecmp(value, lies[i]) == 0) {
        return 0;
      }
    }
  }

  errno = EINVAL;
  return -1;
}

/* What one side of a TLSRequired "a+b" value sets. */
enum req_kind {
  REQ_LEVEL,            /* ctrl/auth: who must say AUTH first */
  REQ_DATA              /* data/!data: what PROT must be */
};

struct req_term {
  const char *name;
  enum req_kind kind;
  int ctrl, auth, data;
};

static const struct req_term req_terms[] = {
  { "ctrl",    REQ_LEVEL, 1, 1, 0 },
  { "control", REQ_LEVEL, 1, 1, 0 },
  { "auth",    REQ_LEVEL, 0, 1, 0 },
  { "data",    REQ_DATA,  0, 0, FTPS_DATA_REQUIRED },
  { "!data",   REQ_DATA,  0, 0, FTPS_DATA_FORBIDDEN },
  { NULL, REQ_LEVEL, 0, 0, 0 }
};

/* req_term_lookup - the term spelled by the len bytes at s, or NULL */
static const struct req_term *req_term_lookup(const char *s, size_t len) {
  const struct req_term *t;

  for (t = req_terms; t->name != NULL; t++) {
    if (strlen(t->name) == len && strncasecmp(t->name, s, len) == 0) {
      return t;
    }
  }
  return NULL;
}

/*
 * Beyond mod_tls's list, a "+" pair may come in either order ("data+ctrl")
 * and "control" may stand for "ctrl" in a pair: one rule for all of them is
 * simpler than a list of spellings.  A pair must join one level (ctrl/auth)
 * and one data term; "ctrl+auth" and "data+!data" are rejected.
 */
int ftps_config_parse_required(const char *value, struct ftps_required *req,
    struct ftps_error *err) {
  const struct req_term *a, *b = NULL;
  const char *plus;
  struct ftps_required r;
  int on;

  if (value == NULL || req == NULL) {
    return FTPS_CONFIG_FAIL(err, "missing TLSRequired value");
  }

  on = ftps_config_parse_bool(value);
  if (on >= 0) {
    r.ctrl = r.auth = on;
    r.data = on ? FTPS_DATA_REQUIRED : FTPS_DATA_OPTIONAL;
    *req = r;
    return 0;
  }

  if (strcasecmp(value, "both") == 0) {
    value = "ctrl+data";
  }

  plus = strchr(value, '+');
  if (plus == NULL) {
    a = req_term_lookup(value, strlen(value));

  } else {
    a = req_term_lookup(value, (size_t) (plus - value));
    b = req_term_lookup(plus + 1, strlen(plus + 1));
    if (b == NULL || (a != NULL && a->kind == b->kind)) {
      a = NULL;
    }
  }

  if (a == NULL) {
    return FTPS_CONFIG_FAIL(err, "unknown TLSRequired value '%s'", value);
  }

  r.ctrl = a->ctrl | (b != NULL ? b->ctrl : 0);
  r.auth = a->auth | (b != NULL ? b->auth : 0);
  r.data = a->data + (b != NULL ? b->data : 0);
  *req = r;
  return 0;
}

/* TLSOptions */

struct opt_name {
  const char *name;
  unsigned long bit;
};

/* The first entry for a bit is its canonical name, the one
 * ftps_config_option_name returns; later entries are aliases.  mod_tls's
 * documentation spells the renegotiation option with a final "s". */
static const struct opt_name opt_names[] = {
  { "AllowClientRenegotiations", FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION },
  { "AllowClientRenegotiation",  FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION },
  { "AllowDotLogin",             FTPS_OPT_ALLOW_DOT_LOGIN },
  { "AllowPerUser",              FTPS_OPT_ALLOW_PER_USER },
  { "AllowWeakDH",               FTPS_OPT_ALLOW_WEAK_DH },
  { "AllowWeakSecurity",         FTPS_OPT_ALLOW_WEAK_SECURITY },
  { "CommonNameRequired",        FTPS_OPT_COMMON_NAME_REQUIRED },
  { "dNSNameRequired",           FTPS_OPT_DNS_NAME_REQUIRED },
  { "iPAddressRequired",         FTPS_OPT_IP_ADDRESS_REQUIRED },
  { "EnableDiags",               FTPS_OPT_ENABLE_DIAGS },
  { "ExportCertData",            FTPS_OPT_EXPORT_CERT_DATA },
  { "StdEnvVars",                FTPS_OPT_STD_ENV_VARS },
  { "IgnoreSNI",                 FTPS_OPT_IGNORE_SNI },
  { "NoAutoECDH",                FTPS_OPT_NO_AUTO_ECDH },
  { "NoEmptyFragments",          FTPS_OPT_NO_EMPTY_FRAGMENTS },
  { "NoSessionReuseRequired",    FTPS_OPT_NO_SESSION_REUSE_REQUIRED },
  { "UseImplicitSSL",            FTPS_OPT_USE_IMPLICIT_SSL },
  { "NoCertRequest",             FTPS_OPT_NO_CERT_REQUEST },
  /* mod_ftps's own (mod_tls refuses them: see README, Migration). */
  { "AllowAnyALPN",              FTPS_OPT_ALLOW_ANY_ALPN },
  { "StrictSNI",                 FTPS_OPT_STRICT_SNI },
  { NULL, 0 }
};

/* Names are matched with strcmp, not strcasecmp, as mod_tls does: a
 * configuration accepted here is then accepted by mod_tls too (but for
 * the names that are mod_ftps's own). */
int ftps_config_parse_options(int argc, const char *const *argv,
    unsigned long *opts, struct ftps_error *err) {
  unsigned long set = 0;
  int i;

  if (argc <= 0 || argv == NULL || opts == NULL) {
    return FTPS_CONFIG_FAIL(err, "TLSOptions needs at least one option");
  }

  for (i = 0; i < argc; i++) {
    const struct opt_name *o;

    if (argv[i] == NULL) {
      return FTPS_CONFIG_FAIL(err, "missing TLSOption name");
    }

    for (o = opt_names; o->name != NULL; o++) {
      if (strcmp(o->name, argv[i]) == 0) {
        break;
      }
    }
    if (o->name == NULL) {
      return FTPS_CONFIG_FAIL(err, "unknown TLSOption '%s'", argv[i]);
    }

    set |= o->bit;
  }

  /* Only now: an error must leave the caller's options as they were. */
  *opts |= set;
  return 0;
}

const char *ftps_config_option_name(unsigned long opt) {
  const struct opt_name *o;

  for (o = opt_names; o->name != NULL; o++) {
    if (o->bit == opt) {
      return o->name;
    }
  }
  return NULL;
}

/* TLSRenegotiate */

/* parse_positive - a decimal integer from 1 to LONG_MAX / 1024 (so that
 * kilobytes still fit in bytes), or -1 */
static long parse_positive(const char *s) {
  char *end = NULL;
  long n;

  if (s == NULL ||
      *s < '0' || *s > '9') {
    return -1;
  }

  errno = 0;
  n = strtol(s, &end, 10);
  if (errno != 0 ||
      *end != '\0' ||
      n <= 0 ||
      n > LONG_MAX / 1024) {
    return -1;
  }
  return n;
}

int ftps_config_parse_renegotiate(int argc, const char *const *argv,
    struct ftps_rekey *rekey, struct ftps_error *err) {
  struct ftps_rekey r = { 0, 0, -1, 0 };
  int i;

  if (argc <= 0 || argv == NULL || rekey == NULL || argv[0] == NULL) {
    return FTPS_CONFIG_FAIL(err, "TLSRenegotiate needs 'none' or name/value "
      "pairs");
  }

  if (argc == 1 &&
      strcasecmp(argv[0], "none") == 0) {
    *rekey = r;
    return 0;
  }

  if (argc % 2 != 0) {
    return FTPS_CONFIG_FAIL(err, "TLSRenegotiate parameters come in "
      "name/value pairs ('%s' has no value)", argv[argc - 1]);
  }

  for (i = 0; i < argc; i += 2) {
    const char *name = argv[i], *value = argv[i + 1];
    long n = -1;

    if (name == NULL || value == NULL) {
      return FTPS_CONFIG_FAIL(err, "missing TLSRenegotiate parameter");
    }

    if (strcasecmp(name, "required") == 0) {
      r.required = ftps_config_parse_bool(value);
      if (r.required < 0) {
        return FTPS_CONFIG_FAIL(err, "TLSRenegotiate required '%s': expected "
          "on or off", value);
      }
      continue;
    }

    if (strcasecmp(name, "ctrl") != 0 &&
        strcasecmp(name, "data") != 0 &&
        strcasecmp(name, "timeout") != 0) {
      return FTPS_CONFIG_FAIL(err, "unknown TLSRenegotiate parameter '%s' "
        "(expected ctrl, data, required or timeout)", name);
    }

    n = parse_positive(value);
    if (n < 0) {
      return FTPS_CONFIG_FAIL(err, "TLSRenegotiate %s '%s': expected a "
        "positive number of %s", name, value,
        strcasecmp(name, "data") == 0 ? "kilobytes" : "seconds");
    }

    if (strcasecmp(name, "ctrl") == 0) {
      r.ctrl_secs = n;

    } else if (strcasecmp(name, "data") == 0) {
      r.data_kb = n;

    } else {
      r.timeout = n;
    }
  }

  *rekey = r;
  return 0;
}

/* TLSVerifyDepth */

int ftps_config_parse_depth(const char *value, int *depth,
    struct ftps_error *err) {
  const char *p;
  long n = 0;

  if (value == NULL || depth == NULL) {
    return FTPS_CONFIG_FAIL(err, "missing TLSVerifyDepth value");
  }

  /* Digits only: strtol would take "", " 5", "+5" and "-0". */
  for (p = value; *p >= '0' && *p <= '9' && n <= FTPS_CONFIG_DEPTH_MAX;
      p++) {
    n = n * 10 + (*p - '0');
  }
  if (p == value || *p != '\0' || n > FTPS_CONFIG_DEPTH_MAX) {
    return FTPS_CONFIG_FAIL(err, "expected a depth from 0 to %d, got '%s'",
      FTPS_CONFIG_DEPTH_MAX, value);
  }
  *depth = (int) n;
  return 0;
}

/*
 * ftps/config.h - parsers for the values of mod_ftps's directives.
 *
 * The directive names and grammar are mod_tls's (TLSProtocol, TLSRequired,
 * TLSOptions, ...), so that existing configurations carry over.  These are
 * pure functions over strings: no ProFTPD, no OpenSSL.
 */
#ifndef FTPS_CONFIG_H
#define FTPS_CONFIG_H

#include "ftps/error.h"

/* Protocol versions, as a bit set. */
#define FTPS_PROTO_TLSV1     0x01U
#define FTPS_PROTO_TLSV1_1   0x02U
#define FTPS_PROTO_TLSV1_2   0x04U
#define FTPS_PROTO_TLSV1_3   0x08U
/* The versions mod_ftps enables by default, and what "ALL"/"SSLv23" mean:
 * only versions without known weaknesses.  TLSv1 and TLSv1.1 must be named
 * explicitly. */
#define FTPS_PROTO_SECURE    (FTPS_PROTO_TLSV1_2|FTPS_PROTO_TLSV1_3)
#define FTPS_PROTO_DEFAULT   FTPS_PROTO_SECURE

/* ftps_config_parse_protocols - parse TLSProtocol's arguments.
 * Either a list of names (TLSv1 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3 SSLv23 ALL),
 * or modifiers applied in order: "+name" adds, "-name" removes, and a bare
 * first word (such as ALL) is the starting set.  Names are case-insensitive.
 * "SSLv3" is accepted and ignored (never enabled); *ignored is set to 1 then.
 * An empty result is an error.  Returns 0 or -1 (EINVAL) with err set. */
int ftps_config_parse_protocols(int argc, const char *const *argv,
  unsigned int *protos, int *ignored, struct ftps_error *err);

/* ftps_config_protocols_str - "TLSv1.2 TLSv1.3" for a bit set, in buf */
const char *ftps_config_protocols_str(unsigned int protos, char *buf,
  size_t bufsz);

/* TLSRequired: what must be protected.  data is tri-state. */
#define FTPS_DATA_FORBIDDEN  -1   /* PROT P refused ("!data") */
#define FTPS_DATA_OPTIONAL    0
#define FTPS_DATA_REQUIRED    1

struct ftps_required {
  int ctrl;    /* every command but the pass-list needs AUTH first */
  int auth;    /* USER, PASS and ACCT need AUTH first */
  int data;    /* FTPS_DATA_* */
};

/* ftps_config_parse_required - parse one TLSRequired value:
 *   on (or any boolean true)   ctrl + auth + data
 *   off (or any boolean false) nothing
 *   ctrl, control              ctrl + auth
 *   data, !data                data required / data forbidden
 *   both, ctrl+data            ctrl + auth + data
 *   ctrl+!data                 ctrl + auth, data forbidden
 *   auth, auth+data, auth+!data
 * Case-insensitive.  Returns 0 or -1 (EINVAL) with err set. */
int ftps_config_parse_required(const char *value, struct ftps_required *req,
  struct ftps_error *err);

/* ftps_config_parse_bool - on/off, yes/no, true/false, 1/0 (any case):
 * returns 1, 0, or -1 (EINVAL) */
int ftps_config_parse_bool(const char *value);

/* TLSOptions flags (mod_tls's sixteen names, plus NoCertRequest, plus
 * mod_ftps's own AllowAnyALPN and StrictSNI). */
#define FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION  0x00001UL
#define FTPS_OPT_ALLOW_DOT_LOGIN             0x00002UL
#define FTPS_OPT_ALLOW_PER_USER              0x00004UL
#define FTPS_OPT_ALLOW_WEAK_DH               0x00008UL
#define FTPS_OPT_ALLOW_WEAK_SECURITY         0x00010UL
#define FTPS_OPT_COMMON_NAME_REQUIRED        0x00020UL
#define FTPS_OPT_DNS_NAME_REQUIRED           0x00040UL
#define FTPS_OPT_IP_ADDRESS_REQUIRED         0x00080UL
#define FTPS_OPT_ENABLE_DIAGS                0x00100UL
#define FTPS_OPT_EXPORT_CERT_DATA            0x00200UL
#define FTPS_OPT_STD_ENV_VARS                0x00400UL
#define FTPS_OPT_IGNORE_SNI                  0x00800UL
#define FTPS_OPT_NO_AUTO_ECDH                0x01000UL
#define FTPS_OPT_NO_EMPTY_FRAGMENTS          0x02000UL
#define FTPS_OPT_NO_SESSION_REUSE_REQUIRED   0x04000UL
#define FTPS_OPT_USE_IMPLICIT_SSL            0x08000UL
#define FTPS_OPT_NO_CERT_REQUEST             0x10000UL  /* obsolete */
#define FTPS_OPT_ALLOW_ANY_ALPN              0x20000UL  /* mod_ftps's own */
#define FTPS_OPT_STRICT_SNI                  0x40000UL  /* mod_ftps's own */
#define FTPS_OPT_LAST                        FTPS_OPT_STRICT_SNI

/* Options that mod_ftps honours today; the rest parse and are ignored
 * with a warning at startup. */
#define FTPS_OPT_IMPLEMENTED  (FTPS_OPT_NO_SESSION_REUSE_REQUIRED|\
  FTPS_OPT_USE_IMPLICIT_SSL|FTPS_OPT_ALLOW_PER_USER|FTPS_OPT_STD_ENV_VARS|\
  FTPS_OPT_EXPORT_CERT_DATA|FTPS_OPT_ALLOW_CLIENT_RENEGOTIATION|\
  FTPS_OPT_ALLOW_DOT_LOGIN|FTPS_OPT_ALLOW_WEAK_DH|\
  FTPS_OPT_ALLOW_WEAK_SECURITY|FTPS_OPT_COMMON_NAME_REQUIRED|\
  FTPS_OPT_DNS_NAME_REQUIRED|FTPS_OPT_IP_ADDRESS_REQUIRED|\
  FTPS_OPT_ENABLE_DIAGS|FTPS_OPT_IGNORE_SNI|FTPS_OPT_ALLOW_ANY_ALPN|\
  FTPS_OPT_STRICT_SNI)

/* ftps_config_parse_options - OR the named options into *opts.  Names are
 * matched exactly, as mod_tls does ("AllowClientRenegotiations" is an alias).
 * An unknown name is an error: -1 (EINVAL) with err set. */
int ftps_config_parse_options(int argc, const char *const *argv,
  unsigned long *opts, struct ftps_error *err);

/* ftps_config_option_name - the canonical name of one FTPS_OPT_* bit */
const char *ftps_config_option_name(unsigned long opt);

/* TLSRenegotiate: under TLS 1.3, new traffic keys (KeyUpdate, RFC 8446
 * section 4.6.3) every ctrl_secs on the control connection and every
 * data_kb kilobytes on a data connection; 0 means never.  TLS 1.2 is never
 * renegotiated.  required and timeout are mod_tls's knobs for waiting on a
 * renegotiation: a key update needs no answer, so they are only kept to be
 * reported. */
struct ftps_rekey {
  long ctrl_secs;
  long data_kb;
  int required;      /* -1 when not given */
  long timeout;      /* 0 when not given */
};

/* ftps_config_parse_renegotiate - parse TLSRenegotiate's arguments: "none",
 * or name/value pairs "ctrl" secs, "data" kb, "required" on|off, "timeout"
 * secs, in any order (names case-insensitive, numbers positive decimal
 * integers).  Returns 0 or -1 (EINVAL) with err set. */
int ftps_config_parse_renegotiate(int argc, const char *const *argv,
  struct ftps_rekey *rekey, struct ftps_error *err);

/* ftps_config_parse_depth - TLSVerifyDepth's value: a decimal number of
 * certificates from 0 to FTPS_CONFIG_DEPTH_MAX, digits only.  Returns 0 or
 * -1 (EINVAL) with err set. */
#define FTPS_CONFIG_DEPTH_MAX 100
int ftps_config_parse_depth(const char *value, int *depth,
  struct ftps_error *err);

/* The default cipher lists: AEAD ciphers with forward secrecy only. */
#define FTPS_CIPHERS_DEFAULT \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
  "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
  "DHE-RSA-CHACHA20-POLY1305"
#define FTPS_CIPHERSUITES_DEFAULT \
  "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* The default key-exchange groups (TLSECDHCurve unset): OpenSSL's own list
 * without the finite-field groups above 3072 bits.  A TLS 1.3 client picks
 * among the groups both sides name (RFC 8446 section 4.2.7), and a key
 * share of ffdhe8192 costs the server some hundred times the work of an
 * X25519 one: a cheap way to burn its CPU, for no security an FTPS
 * session needs (ffdhe3072 already matches AES-128). */
#define FTPS_GROUPS_DEFAULT \
  "X25519:P-256:X448:P-384:P-521:ffdhe2048:ffdhe3072"

#endif /* FTPS_CONFIG_H */

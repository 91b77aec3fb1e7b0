/*
 * mod_ftps.h - what the ProFTPD-facing files of mod_ftps share.
 *
 * Only mod_ftps.c, directives.c, server.c, netio.c and log.c include this
 * (and so ProFTPD's headers); the lower layers in include/ftps/ stay pure.
 */
#ifndef MOD_FTPS_H
#define MOD_FTPS_H

#include "conf.h"
#include "privs.h"

#if PROFTPD_VERSION_NUMBER < 0x0001030800
# error "mod_ftps requires ProFTPD 1.3.8 or later"
#endif

#include <openssl/opensslv.h>
#if OPENSSL_VERSION_NUMBER < 0x30000000L
# error "mod_ftps requires OpenSSL 3.0 or later"
#endif

#ifndef MOD_FTPS_PACKAGE_VERSION
# define MOD_FTPS_PACKAGE_VERSION "0.0.0"
#endif
#define MOD_FTPS_VERSION "mod_ftps/" MOD_FTPS_PACKAGE_VERSION

/* The default TLSTimeoutHandshake, in seconds (mod_tls's). */
#define FTPS_TIMEOUT_HANDSHAKE_DEFAULT 300

/* FTPSCertificateWatch on: seconds between two looks at the files */
#define FTPS_CERT_WATCH_DEFAULT 60

/* FTPSCertificateExpiryWarning: days */
#define FTPS_CERT_EXPIRY_WARNING_DEFAULT 21

extern module ftps_module;
extern conftable ftps_conftab[];

/* ProFTPD 1.3.8 takes a directive's error inside an Include'd file (such as
 * Debian's tls.conf and modules.conf) for a mere warning: it skips the rest
 * of that file and starts anyway, e.g. without the TLSRequired below a
 * typo, or without the modules listed after a refused LoadModule.  So every
 * error of our handlers (CONF_ERROR, and CHECK_CONF/CHECK_ARGS through it)
 * is counted, and the postparse refuses to start if there was one. */
#undef CONF_ERROR
#define CONF_ERROR(x, s)  return ftps_conf_error((x), (s))

modret_t *ftps_conf_error(cmd_rec *cmd, const char *msg);

/* How many directive errors since the last reset (each parse). */
unsigned int ftps_conf_errors(void);
void ftps_conf_errors_reset(void);

#endif /* MOD_FTPS_H */

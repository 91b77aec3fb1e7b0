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

extern module ftps_module;
extern conftable ftps_conftab[];

#endif /* MOD_FTPS_H */

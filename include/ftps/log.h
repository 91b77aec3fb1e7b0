/*
 * ftps/log.h - mod_ftps's own log (TLSLog) and its trace channel.
 */
#ifndef FTPS_LOG_H
#define FTPS_LOG_H

#include <openssl/ssl.h>

#include "mod_ftps.h"

#define FTPS_TRACE_CHANNEL "ftps"

/* ftps_log_open - open the TLSLog of server s, as root, before any chroot.
 * Returns 0 (also when s has no TLSLog), or -1 with errno. */
int ftps_log_open(server_rec *s);

/* ftps_log_close - close the TLSLog, if open */
void ftps_log_close(void);

/* ftps_log - one line to the TLSLog (if any) and to the "ftps" trace
 * channel, escaped as by ftps_log_escape() (a peer's string cannot forge a
 * line).  Never pass key material or passphrases. */
void ftps_log(const char *fmt, ...)
#ifdef __GNUC__
  __attribute__((format(printf, 1, 2)))
#endif
  ;

/* ftps_log_escape - s as it may go into any log: control characters, DEL
 * and the backslash as \xNN.  s itself when it needs no escaping, else a
 * copy from p.  ftps_log() escapes its whole line already; this is for what
 * a peer sent that goes to ProFTPD's own logs (pr_log_pri, pr_log_auth). */
const char *ftps_log_escape(pool *p, const char *s);

/* ftps_log_diags - TLSOptions EnableDiags: log ctx's handshake steps and
 * alerts to the TLSLog (in the session process only) */
void ftps_log_diags(SSL_CTX *ctx);

#endif /* FTPS_LOG_H */

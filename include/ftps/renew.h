/*
 * ftps/renew.h - renewed certificates taken without a restart, and a bad
 * renewal never taken: the checks and the log of server.c's reloads.
 */
#ifndef FTPS_RENEW_H
#define FTPS_RENEW_H

#include "mod_ftps.h"
#include "ftps/reload.h"

/* ftps_renew_claim - the last good material of s (an empty one at first),
 * kept across restarts; NULL (logged) when out of memory */
struct ftps_material *ftps_renew_claim(server_rec *s);

/* ftps_renew_files - the identity of every certificate, key, chain,
 * PKCS#12, CA and CRL file s is configured with, as root */
void ftps_renew_files(server_rec *s, struct ftps_reload_files *files);

/* ftps_renew_warn_keypair - warnings about kp, read from path for
 * directive, that do not stop the daemon: expired, not valid yet, a key
 * file that group or others can read */
void ftps_renew_warn_keypair(server_rec *s, const struct ftps_keypair *kp,
    const char *directive, const char *path);

/* ftps_renew_unservable - log that the n new keypairs of s are not used:
 * no test handshake of version ("TLSv1.2", "TLSv1.3", "TLS": any)
 * succeeds with them, where the last good ones' do */
void ftps_renew_unservable(server_rec *s, struct ftps_keypair *kps, int n,
  const char *version);

/* ftps_renew_refused - -1 (logged, one line per problem, naming its
 * directive and file) when one of the n new keypairs has a problem of its
 * own (ftps_reload_new_problems): a new certificate not valid now, or a
 * chain problem of a kind the last good material of m does not have;
 * else 0 */
int ftps_renew_refused(server_rec *s, const struct ftps_material *m,
  struct ftps_keypair *kps, int n);

/* ftps_renew_crl_refused - -1 (logged when say) when ctx, built from s's
 * files for m's server, lacks a CRL, or holds an older one, of an issuer
 * it still trusts that the last good material's TLSCARevocationFile had:
 * a certificate that CRL revoked would be accepted again.  0 when it does
 * not, and when TLSCARevocationFile names another file than then (a
 * change of configuration, not a renewal). */
int ftps_renew_crl_refused(server_rec *s, const struct ftps_material *m,
  SSL_CTX *ctx, int say);

/* ftps_renew_taken - the n keypairs read from files passed: they become
 * m's last good material; a change of certificate is logged with the old
 * and new serial and notAfter, a change of chain alone with the old and
 * new chain, a changed CA file or CRL by its directive and file */
void ftps_renew_taken(server_rec *s, struct ftps_material *m,
  struct ftps_keypair *kps, int n, const struct ftps_reload_files *files);

/* ftps_renew_kept - log that s keeps m's last good certificates */
void ftps_renew_kept(server_rec *s, const struct ftps_material *m);

/* ftps_renew_warn_expiry - warn about m's certificates that expire within
 * FTPSCertificateExpiryWarning days (and, when expired too, those that
 * have expired) */
void ftps_renew_warn_expiry(server_rec *s, const struct ftps_material *m,
  int expired_too);

/* ftps_renew_log - pr_log_pri(), or only the debug log while quiet */
void ftps_renew_log(int prio, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* ftps_renew_quiet - the watcher tries files again that failed before:
 * what it logs then was logged already (on), or not (off) */
void ftps_renew_quiet(int on);

/* ftps_renew_watch_interval - FTPSCertificateWatch in seconds (0: off) */
int ftps_renew_watch_interval(void);

/* ftps_renew_watch_start - (re)set the master's timer: every
 * FTPSCertificateWatch seconds, renewed files are looked for
 * (ftps_server_watch); daily, certificates near expiry are warned about */
void ftps_renew_watch_start(void);

/* ftps_renew_watch_stop - remove the timer (restart, unload, and in each
 * session, which inherits the master's timers and never reads
 * certificates) */
void ftps_renew_watch_stop(void);

#endif /* FTPS_RENEW_H */

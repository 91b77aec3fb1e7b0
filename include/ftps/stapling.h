/*
 * ftps/stapling.h - OCSP stapling (RFC 6066 section 8; mod_tls's
 * TLSStapling* directives, plus FTPSStaplingFile).
 *
 * Responses are never fetched during a handshake: the master fetches them in
 * a short-lived child process (one per certificate and fetch, bounded by
 * TLSStaplingTimeout) and collects the answer on a one-second timer, or
 * re-reads the file an admin names; either is checked (ftps/ocsp.h) before
 * it is stapled, refreshed halfway through its validity, and dropped when it
 * expires.  Sessions inherit the current response when they are forked.
 */
#ifndef FTPS_STAPLING_H
#define FTPS_STAPLING_H

#include "mod_ftps.h"

/* ftps_stapling_setup - in the master, after the servers' contexts are
 * built: install the status callback on each context with stapling on,
 * read the staple files, and start the fetch timer.  Problems are logged
 * and never stop the daemon (a missing staple only costs clients a
 * revocation lookup). */
void ftps_stapling_setup(void);

/* ftps_stapling_free - forget every response and stop fetching (restart,
 * unload); before the contexts are freed */
void ftps_stapling_free(void);

/* ftps_stapling_keep - on restart (and unload, which a restart does): like
 * ftps_stapling_free, but each response is kept, outside the DSO, for the
 * next ftps_stapling_setup, which staples it again for the same
 * certificate if it still passes the checks */
void ftps_stapling_keep(void);

/* ftps_stapling_sess_init - in a new session: drop the master's fetch
 * timer and forget its fetches; the responses stay */
void ftps_stapling_sess_init(void);

/* The stapling directives (parsed in directives.c) */
modret_t *set_tlsstapling(cmd_rec *cmd);
modret_t *set_tlsstaplingcache(cmd_rec *cmd);
modret_t *set_tlsstaplingoptions(cmd_rec *cmd);
modret_t *set_tlsstaplingresponder(cmd_rec *cmd);
modret_t *set_tlsstaplingtimeout(cmd_rec *cmd);
modret_t *set_ftpsstaplingfile(cmd_rec *cmd);

/* TLSStaplingOptions */
#define FTPS_STAPLING_OPT_NO_NONCE          0x01U
#define FTPS_STAPLING_OPT_NO_VERIFY         0x02U
#define FTPS_STAPLING_OPT_NO_FAKE_TRY_LATER 0x04U

/* The default TLSStaplingTimeout, in seconds (mod_tls's). */
#define FTPS_STAPLING_TIMEOUT_DEFAULT 10

#define FTPS_STAPLING_CONFTAB \
  { "FTPSStaplingFile",         set_ftpsstaplingfile,     NULL }, \
  { "TLSStapling",              set_tlsstapling,          NULL }, \
  { "TLSStaplingCache",         set_tlsstaplingcache,     NULL }, \
  { "TLSStaplingOptions",       set_tlsstaplingoptions,   NULL }, \
  { "TLSStaplingResponder",     set_tlsstaplingresponder, NULL }, \
  { "TLSStaplingTimeout",       set_tlsstaplingtimeout,   NULL }

#endif /* FTPS_STAPLING_H */

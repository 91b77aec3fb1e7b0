/*
 * ftps/policy.h - which TLSRequired governs a command.
 */
#ifndef FTPS_POLICY_H
#define FTPS_POLICY_H

#include <openssl/ssl.h>

#include "mod_ftps.h"
#include "ftps/config.h"

/* ftps_policy_required - the TLSRequired in force for cmd.  For a
 * command that names files or directories (transfers, listings, and
 * control commands: CWD, STAT, SIZE, MDTM, MLST, MKD, RMD, DELE, RNFR,
 * RNTO, MFMT, MFF, SITE CHMOD and the like, mod_digest's HASH, XMD5...;
 * CDUP names ".."), the
 * strictest rule of the paths it names (<Directory>, .ftpaccess), so that
 * "RETR secure/f" or "SIZE secure/f" sent from elsewhere cannot escape
 * secure/'s rule; for any other command, or cmd NULL, the rule of the
 * session's working directory (vhost, <Anonymous>, <Directory>,
 * .ftpaccess), never the one a previous command's path left in
 * session.dir_config.  Before login, the server's rule only.  No
 * setting: all 0. */
void ftps_policy_required(cmd_rec *cmd, struct ftps_required *req);

/* ftps_policy_is_ctrl_listing - cmd lists names over the control
 * connection (STAT with an argument, RFC 959 section 4.1.3) */
int ftps_policy_is_ctrl_listing(cmd_rec *cmd);

/* ftps_policy_listing_reaches - for a LIST, NLST or STAT listing (its
 * path read as mod_ls reads it: the rest of the line after the options,
 * ~ expanded): the first directory it may reach (the one it names, or
 * below with -R, ListOptions -R, or a glob) whose TLSRequired
 * (<Directory>, .ftpaccess) demands a protected data channel, or NULL if
 * none.  A tree too large to check, or a glob whose directory part cannot
 * be found, counts as reaching one (fail closed).  NULL at once when no
 * directory of the server can demand it (no such TLSRequired configured,
 * AllowOverride off). */
const char *ftps_policy_listing_reaches(cmd_rec *cmd);

/* ftps_policy_chroot_hides_trust - 1 if the session has been chrooted
 * (DefaultRoot) and ctx, the context the handshake will use (built from
 * s's configuration), verifies client certificates, with s configuring a
 * hashed directory (TLSCACertificatePath, TLSCARevocationPath).  ctx
 * decides, not s's TLSVerifyClient: mod_ifsession rewrites that at login
 * (<IfUser> TLSVerifyClient off), the context it was built into stays.
 * OpenSSL reads the directories when a certificate is verified, and after
 * the chroot the paths lead into the user's own tree, where the user may
 * put a CA of their own or an empty CRL directory.  A handshake then
 * (AUTH after login, TLSOptions AllowPerUser) could not judge a client
 * certificate; 0 otherwise. */
int ftps_policy_chroot_hides_trust(server_rec *s, SSL_CTX *ctx);

#endif /* FTPS_POLICY_H */

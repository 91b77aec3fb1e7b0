/*
 * ftps/policy.h - which TLSRequired governs a command.
 */
#ifndef FTPS_POLICY_H
#define FTPS_POLICY_H

#include "mod_ftps.h"
#include "ftps/config.h"

/* ftps_policy_required - the TLSRequired in force for cmd.  For a
 * command that names files or directories (transfers, listings, and
 * control commands: CWD, STAT, SIZE, MDTM, MLST, MKD, RMD, DELE, RNFR,
 * RNTO, MFMT, MFF, SITE CHMOD and the like; CDUP names ".."), the
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

/* ftps_policy_listing_reaches - for a LIST, NLST or STAT listing that
 * lists more than the directory it names (-R, ListOptions -R, or a glob):
 * the first directory it may reach whose TLSRequired (<Directory>,
 * .ftpaccess) demands a protected data channel, or NULL if none.  A tree
 * too large to check counts as reaching one (fail closed). */
const char *ftps_policy_listing_reaches(cmd_rec *cmd);

#endif /* FTPS_POLICY_H */

/*
 * ftps/policy.h - which TLSRequired governs a command.
 */
#ifndef FTPS_POLICY_H
#define FTPS_POLICY_H

#include "mod_ftps.h"
#include "ftps/config.h"

/* ftps_policy_required - the TLSRequired in force for cmd: at the path it
 * names, for the commands that transfer a named file or directory (so that
 * "RETR secure/f" sent from elsewhere cannot escape a <Directory> or
 * .ftpaccess rule of secure/), else where the session is (vhost,
 * <Anonymous>, current <Directory>).  cmd may be NULL.  No setting: all 0. */
void ftps_policy_required(cmd_rec *cmd, struct ftps_required *req);

/* ftps_policy_listing_reaches - for a LIST or NLST that lists more than
 * the directory it names (-R, ListOptions -R, or a glob):
 * the first directory it may reach whose TLSRequired (<Directory>,
 * .ftpaccess) demands a protected data channel, or NULL if none.  A tree
 * too large to check counts as reaching one (fail closed). */
const char *ftps_policy_listing_reaches(cmd_rec *cmd);

#endif /* FTPS_POLICY_H */

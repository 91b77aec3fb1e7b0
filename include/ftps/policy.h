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

#endif /* FTPS_POLICY_H */

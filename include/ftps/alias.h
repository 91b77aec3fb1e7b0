/*
 * ftps/alias.h - the stand-in that makes <IfModule mod_tls.c> true while
 * mod_ftps is loaded, and the check that refuses mod_tls beside it.
 */
#ifndef FTPS_ALIAS_H
#define FTPS_ALIAS_H

#include "mod_ftps.h"

/* ftps_alias_register - register the empty module "mod_tls.c" (from the
 * module's init).  Fails with EEXIST, logging why, when the real mod_tls is
 * loaded already. */
int ftps_alias_register(void);

/* ftps_alias_detach - withdraw the stand-in's auth handlers (the DSO is
 * being unloaded); the name itself stays until mod_dso unloads it */
void ftps_alias_detach(void);

/* ftps_alias_release - at a restart, before mod_dso unloads the modules:
 * unregister the stand-in and free it (the next load registers it again) */
void ftps_alias_release(void);

/* ftps_alias_loadmodule - a LoadModule handler that refuses mod_tls and its
 * companion modules with a clear message; declines everything else */
modret_t *ftps_alias_loadmodule(cmd_rec *cmd);

#endif /* FTPS_ALIAS_H */

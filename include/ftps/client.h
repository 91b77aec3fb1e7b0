/*
 * ftps/client.h - the client's certificate: names it must carry after the
 * control handshake, and certificate logins (TLSUserName, AllowDotLogin).
 */
#ifndef FTPS_CLIENT_H
#define FTPS_CLIENT_H

#include "mod_ftps.h"
#include "ftps/error.h"

/* ftps_client_check_names - after the control handshake: TLSOptions
 * CommonNameRequired, dNSNameRequired and iPAddressRequired (opts) against
 * the client's address and name.  0, or -1 with err saying what is
 * missing (the session must then end). */
int ftps_client_check_names(unsigned long opts, struct ftps_error *err);

/* The auth handlers (auth, check, requires_pass) of certificate logins,
 * and those of the mod_tls.c stand-in (auth, check: see client.c). */
extern authtable ftps_client_authtab[];
extern authtable ftps_client_alias_authtab[];

#endif /* FTPS_CLIENT_H */

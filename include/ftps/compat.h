/*
 * ftps/compat.h - handlers for mod_tls directives that mod_ftps accepts
 * without honouring them yet (see compat.c).
 */
#ifndef FTPS_COMPAT_H
#define FTPS_COMPAT_H

#include "mod_ftps.h"

modret_t *set_tlscompat(cmd_rec *cmd);

/* The conftable rows of the accepted-but-ignored directives. */
#define FTPS_COMPAT_CONFTAB \
  { "TLSControlsACLs",          set_tlscompat, NULL }, \
  { "TLSCryptoDevice",          set_tlscompat, NULL }, \
  { "TLSDSACertificateFile",    set_tlscompat, NULL }, \
  { "TLSDSACertificateKeyFile", set_tlscompat, NULL }, \
  { "TLSPreSharedKey",          set_tlscompat, NULL }, \
  { "TLSRandomSeed",            set_tlscompat, NULL }, \
  { "TLSServerInfoFile",        set_tlscompat, NULL }

#endif /* FTPS_COMPAT_H */

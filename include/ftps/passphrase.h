/*
 * ftps/passphrase.h - passphrases of encrypted private keys, from the
 * program named by TLSPassPhraseProvider (mod_tls's interface: it is run as
 * root with the arguments "ServerName:Port" and the key type, and prints
 * the passphrase on its standard output).
 */
#ifndef FTPS_PASSPHRASE_H
#define FTPS_PASSPHRASE_H

#include "mod_ftps.h"

struct ftps_passphrase_req {
  server_rec *server;
  const char *provider;       /* absolute path of the program */
  const char *key_type;       /* "RSA" or "EC" */
  char why[256];              /* why no passphrase came, for the log */
};

/* ftps_passphrase_cb - an ftps_keypair_pass_cb: runs the provider (arg is
 * a struct ftps_passphrase_req) and writes its first output line to buf.
 * Returns the length, or -1 (the reason in req->why). */
int ftps_passphrase_cb(char *buf, int bufsz, int rwflag, void *arg);

#endif /* FTPS_PASSPHRASE_H */

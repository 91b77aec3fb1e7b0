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
  const char *provider;       /* absolute path of the program, or NULL */
  const char *key_type;       /* "RSA" or "EC" */
  const char *key_path;       /* the file being read */
  int use_cache;              /* try a passphrase remembered earlier */
  int no_prompt;              /* never ask at the terminal (a reload) */
  int used_cache;             /* the passphrase came from the cache */
  int prompted;               /* the passphrase was typed at the terminal */
  int give_up;                /* the provider already hung in this
                               * reload: do not run it again */
  int timed_out;              /* the provider gave no line in time */
  int gave_up;                /* not asked, for give_up */
  int answered;               /* the provider gave a passphrase */
  char why[256];              /* why no passphrase came, for the log */
};

/* ftps_passphrase_cb - an ftps_keypair_pass_cb (arg is a struct
 * ftps_passphrase_req): the passphrase remembered for this key file (after
 * a restart), else the provider's first output line (read until its
 * newline within 10 seconds from the start; a provider still running then
 * is killed; it inherits no descriptor but 0-2), else (only when
 * standard input is a terminal, i.e. at an interactive start) what the
 * administrator types.  Returns the length, or -1 (the reason in why). */
int ftps_passphrase_cb(char *buf, int bufsz, int rwflag, void *arg);

/* ftps_passphrase_remember - the key of req was read: keep the passphrase
 * that opened it (when no provider is configured) in locked memory, so
 * that a restart (SIGHUP), which has no terminal, can open it again without
 * asking.  Any length, any number of key files.  Returns 0, or -1 with
 * errno when it could not be kept; req NULL only forgets the last one. */
int ftps_passphrase_remember(const struct ftps_passphrase_req *req);

/* ftps_passphrase_forget - wipe the remembered passphrases of a key file
 * (key_path) or of all (NULL); sessions call it at start, since they never
 * read keys */
void ftps_passphrase_forget(const char *key_path);

/* ftps_passphrase_sess_init - at session start: a session never reads
 * keys, so it keeps no passphrase (nor the pointer to them) */
void ftps_passphrase_sess_init(void);

#endif /* FTPS_PASSPHRASE_H */

/*
 * ftps/reload.h - each server's last good certificate material, kept across
 * restarts and renewals, and the identity of the files it was read from.
 *
 * A renewal must never take the daemon down: new files are read and checked
 * first, and only material that passes replaces what is served.  What
 * passed last is kept here, per server, until something better comes.  It
 * must outlive this DSO, which mod_dso unloads and loads again on every
 * restart (SIGHUP): the list is in malloc()ed memory, its certificates and
 * keys are libcrypto's (which ProFTPD itself links, so it stays mapped), and
 * its address waits in the master's environment until the new copy of the
 * module takes it back.
 *
 * A file is known by what stat(2) says of it, following symbolic links
 * (certbot's live/ names are links to new archive/ files at each renewal):
 * device, inode, size and modification time.
 *
 * Nothing here knows about ProFTPD; nothing here logs.
 */
#ifndef FTPS_RELOAD_H
#define FTPS_RELOAD_H

#include <sys/types.h>
#include <time.h>

#include "ftps/context.h"
#include "ftps/keypair.h"
#include "ftps/verify.h"

/* certificate, key (per keypair), chain file, PKCS#12 file, CA file, CRL
 * file */
#define FTPS_RELOAD_MAX_FILES (2 * FTPS_CONTEXT_MAX_KEYPAIRS + 4)

struct ftps_reload_file {
  char path[4096];
  int what;                  /* the caller's name for it (its directive) */
  int found;                 /* stat() succeeded */
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
};

struct ftps_reload_files {
  int nfiles;
  struct ftps_reload_file files[FTPS_RELOAD_MAX_FILES];
};

struct ftps_material {
  struct ftps_material *next;
  char id[1024];             /* the server it belongs to */
  int claimed;               /* a server took it since the last restart */
  int nkps;                  /* 0: nothing good was ever read */
  struct ftps_keypair kps[FTPS_CONTEXT_MAX_KEYPAIRS];
  struct ftps_reload_files files;    /* as they were when kps were read */
  struct ftps_reload_files failed;   /* the last set that failed a check */
  int renewed;               /* certificates the last take replaced by
                              * other ones (not the same read again) */
  int ncrls;                 /* the CRLs the last good material was
                              * served with (TLSCARevocationFile) */
  struct ftps_crl_mark crls[FTPS_VERIFY_MAX_CRL_MARKS];
};

/* ftps_reload_files_add - stat path and note it in files; 0, or -1 with
 * errno (E2BIG: no room).  A file that cannot be stat()ed is noted as not
 * found: a later stat() that succeeds is a change. */
int ftps_reload_files_add(struct ftps_reload_files *files, const char *path);

/* ftps_reload_file_same - 1 if a and b are the same path with the same
 * identity, else 0 */
int ftps_reload_file_same(const struct ftps_reload_file *a,
  const struct ftps_reload_file *b);

/* ftps_reload_files_same - 1 if a and b name the same files, in the same
 * order, with the same identity, else 0 */
int ftps_reload_files_same(const struct ftps_reload_files *a,
  const struct ftps_reload_files *b);

/* ftps_reload_attach - take back the list a previous copy of this module
 * left in the environment (after a restart), and remove the variable:
 * sessions must not inherit it.  Marks every entry unclaimed.  1 if a
 * list was taken back (this is a restart), else 0. */
int ftps_reload_attach(void);

/* ftps_reload_stash - leave the list in the environment for the next copy
 * of this module (at a restart, before the DSO is unloaded); 0 or -1 */
int ftps_reload_stash(void);

/* ftps_reload_claim - the material of server id, a new empty entry if
 * there is none (NULL, errno ENOMEM); marks it claimed */
struct ftps_material *ftps_reload_claim(const char *id);

/* ftps_reload_prune - free the entries no server claimed since attach
 * (servers gone from the configuration) */
void ftps_reload_prune(void);

/* ftps_reload_free_all - free the whole list (the module is unloaded for
 * good, or the list is of no further use) */
void ftps_reload_free_all(void);

/* ftps_reload_set - make kps (n of them) and files m's last good material;
 * m takes its own references, the caller keeps its own.  0 or -1. */
int ftps_reload_set(struct ftps_material *m, struct ftps_keypair *kps,
  int n, const struct ftps_reload_files *files);

/* ftps_reload_describe - "serial 0A1B..., notAfter Jan  2 03:04:05 2030
 * GMT" of cert into buf; returns buf */
char *ftps_reload_describe(const X509 *cert, char *buf, size_t bufsz);

/* ftps_reload_same_cert - 1 if a and b are the same certificate */
int ftps_reload_same_cert(const X509 *a, const X509 *b);

/* ftps_reload_same_chain - 1 if a and b (either may be NULL: empty)
 * hold the same certificates in the same order */
int ftps_reload_same_chain(const STACK_OF(X509) *a,
  const STACK_OF(X509) *b);

/* ftps_reload_describe_chain - "2 certificates, the first CN=R11,O=...,
 * notAfter ..." of chain into buf; returns buf */
char *ftps_reload_describe_chain(const STACK_OF(X509) *chain, char *buf,
  size_t bufsz);

/* ftps_reload_lost_name - a DNS name or IP address (subjectAltName, else
 * the common name) that old covers and new does not, into buf; NULL when
 * new covers every one of them */
const char *ftps_reload_lost_name(const X509 *old, X509 *new, char *buf,
    size_t bufsz);

/* ftps_reload_days_left - whole days from now to cert's notAfter (negative
 * once it has expired) */
int ftps_reload_days_left(const X509 *cert, time_t now);

/* The problems a renewal is judged on (ftps_reload_problems), by kind.
 * Unreadable files, a key that does not match its certificate and the like
 * never get this far: such material is refused when it is read. */
#define FTPS_RELOAD_NOT_YET_VALID  0x01U   /* notBefore in the future */
#define FTPS_RELOAD_EXPIRED        0x02U   /* notAfter passed */
#define FTPS_RELOAD_CHAIN_FOREIGN  0x04U   /* the chain's first certificate
                                            * did not issue it */
#define FTPS_RELOAD_CHAIN_DATES    0x08U   /* that first certificate, its
                                            * issuer, is not valid now */
#define FTPS_RELOAD_DATE_KINDS \
  (FTPS_RELOAD_NOT_YET_VALID|FTPS_RELOAD_EXPIRED)
#define FTPS_RELOAD_CHAIN_KINDS \
  (FTPS_RELOAD_CHAIN_FOREIGN|FTPS_RELOAD_CHAIN_DATES)

/* ftps_reload_problems - the FTPS_RELOAD_* problems of kp at now (0:
 * none) */
unsigned int ftps_reload_problems(const struct ftps_keypair *kp, time_t now);

/* ftps_reload_problem_str - the reason for one FTPS_RELOAD_* kind */
const char *ftps_reload_problem_str(unsigned int kind);

/* ftps_reload_new_problems - the problems of kp, which is to replace old,
 * that refuse it: every problem of its own, but a chain problem of a kind
 * that old has too, and, when kp holds the very certificate of old, a
 * problem of its dates (the same dates).  A new certificate that is not
 * valid now is refused whatever old's problems.  With no old (nothing
 * served before), 0: as at the first start. */
unsigned int ftps_reload_new_problems(const struct ftps_keypair *old,
  const struct ftps_keypair *kp, time_t now);

#endif /* FTPS_RELOAD_H */

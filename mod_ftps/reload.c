/*
 * reload.c - each server's last good certificate material, kept across
 * restarts and renewals (ftps/reload.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ftps/reload.h"

/* The list outlives this DSO (see reload.h): its address waits here. */
#define RELOAD_ENV "MOD_FTPS_MATERIAL"

/* A copy of the module built with another layout (an upgrade between two
 * restarts) must not read the list: it is then left alone (and leaks). */
#define RELOAD_MAGIC "mod_ftps material 1"

struct reload_head {
  char magic[32];
  size_t entry_size;
  struct ftps_material *list;
};

static struct reload_head *head = NULL;

int ftps_reload_files_add(struct ftps_reload_files *files, const char *path) {
  struct ftps_reload_file *f;
  struct stat st;

  if (files->nfiles >= FTPS_RELOAD_MAX_FILES ||
      strlen(path) >= sizeof(f->path)) {
    errno = E2BIG;
    return -1;
  }

  f = &files->files[files->nfiles++];
  memset(f, 0, sizeof(*f));
  strcpy(f->path, path);

  /* stat(), not lstat(): a link that points to a new file is a change. */
  if (stat(path, &st) == 0) {
    f->found = 1;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = st.st_size;
    f->mtime = st.st_mtim;
  }
  return 0;
}

int ftps_reload_file_same(const struct ftps_reload_file *a,
    const struct ftps_reload_file *b) {
  return strcmp(a->path, b->path) == 0 &&
    a->found == b->found &&
    a->dev == b->dev &&
    a->ino == b->ino &&
    a->size == b->size &&
    a->mtime.tv_sec == b->mtime.tv_sec &&
    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

int ftps_reload_files_same(const struct ftps_reload_files *a,
    const struct ftps_reload_files *b) {
  int i;

  if (a->nfiles != b->nfiles) {
    return 0;
  }
  for (i = 0; i < a->nfiles; i++) {
    if (!ftps_reload_file_same(&a->files[i], &b->files[i])) {
      return 0;
    }
  }
  return 1;
}

/* head_get - the list's head, made on first use; NULL when out of memory */
static struct reload_head *head_get(void) {
  if (head == NULL) {
    head = calloc(1, sizeof(*head));
    if (head == NULL) {
      errno = ENOMEM;
      return NULL;
    }
    snprintf(head->magic, sizeof(head->magic), "%s", RELOAD_MAGIC);
    head->entry_size = sizeof(struct ftps_material);
  }
  return head;
}

int ftps_reload_attach(void) {
  const char *env = getenv(RELOAD_ENV);
  struct reload_head *h = NULL;
  struct ftps_material *m;

  if (head == NULL &&
      env != NULL &&
      sscanf(env, "%p", (void **) &h) == 1 &&
      h != NULL &&
      strcmp(h->magic, RELOAD_MAGIC) == 0 &&
      h->entry_size == sizeof(struct ftps_material)) {
    head = h;
  }
  (void) unsetenv(RELOAD_ENV);

  for (m = head != NULL ? head->list : NULL; m != NULL; m = m->next) {
    m->claimed = 0;
  }
  return head != NULL;
}

int ftps_reload_stash(void) {
  char addr[64];

  /* Even an empty list: it tells the next copy that this is a restart. */
  if (head_get() == NULL) {
    return -1;
  }
  snprintf(addr, sizeof(addr), "%p", (void *) head);
  if (setenv(RELOAD_ENV, addr, 1) < 0) {
    return -1;
  }

  /* This copy of the module forgets it: the next one takes it back. */
  head = NULL;
  return 0;
}

struct ftps_material *ftps_reload_claim(const char *id) {
  struct reload_head *h = head_get();
  struct ftps_material *m;

  if (h == NULL) {
    return NULL;
  }
  for (m = h->list; m != NULL; m = m->next) {
    if (!m->claimed &&
        strcmp(m->id, id) == 0) {
      m->claimed = 1;
      return m;
    }
  }

  m = calloc(1, sizeof(*m));
  if (m == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  snprintf(m->id, sizeof(m->id), "%s", id);
  m->claimed = 1;
  m->next = h->list;
  h->list = m;
  return m;
}

/* material_clear - drop m's keypairs */
static void material_clear(struct ftps_material *m) {
  int i;

  for (i = 0; i < m->nkps; i++) {
    ftps_keypair_free(&m->kps[i]);
  }
  m->nkps = 0;
}

void ftps_reload_prune(void) {
  struct ftps_material **mp;

  if (head == NULL) {
    return;
  }
  mp = &head->list;
  while (*mp != NULL) {
    struct ftps_material *m = *mp;

    if (m->claimed) {
      mp = &m->next;
      continue;
    }
    *mp = m->next;
    material_clear(m);
    free(m);
  }
}

void ftps_reload_free_all(void) {
  if (head == NULL) {
    return;
  }
  while (head->list != NULL) {
    struct ftps_material *m = head->list;

    head->list = m->next;
    material_clear(m);
    free(m);
  }
  free(head);
  head = NULL;
}

/* keypair_copy - dst (empty) takes its own references to src's objects */
static int keypair_copy(struct ftps_keypair *dst,
    const struct ftps_keypair *src) {
  ftps_keypair_init(dst);
  if (src->chain != NULL) {
    dst->chain = X509_chain_up_ref(src->chain);
    if (dst->chain == NULL) {
      return -1;
    }
  }
  if (src->cert != NULL) {
    X509_up_ref(src->cert);
    dst->cert = src->cert;
  }
  if (src->key != NULL) {
    EVP_PKEY_up_ref(src->key);
    dst->key = src->key;
  }
  memcpy(dst->key_path, src->key_path, sizeof(dst->key_path));
  return 0;
}

int ftps_reload_set(struct ftps_material *m, struct ftps_keypair *kps,
    int n, const struct ftps_reload_files *files) {
  struct ftps_keypair copies[FTPS_CONTEXT_MAX_KEYPAIRS];
  int i, j;

  if (n < 0 || n > FTPS_CONTEXT_MAX_KEYPAIRS) {
    errno = EINVAL;
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (keypair_copy(&copies[i], &kps[i]) < 0) {
      for (j = 0; j <= i; j++) {
        ftps_keypair_free(&copies[j]);
      }
      errno = ENOMEM;
      return -1;
    }
  }

  material_clear(m);
  for (i = 0; i < n; i++) {
    m->kps[i] = copies[i];
  }
  m->nkps = n;
  m->files = *files;
  memset(&m->failed, 0, sizeof(m->failed));
  return 0;
}

char *ftps_reload_describe(const X509 *cert, char *buf, size_t bufsz) {
  const ASN1_INTEGER *serial;
  BIGNUM *bn = NULL;
  char *hex = NULL, date[64] = "?";
  BIO *bio;

  serial = X509_get0_serialNumber(cert);
  if (serial != NULL) {
    bn = ASN1_INTEGER_to_BN(serial, NULL);
  }
  if (bn != NULL) {
    hex = BN_bn2hex(bn);
  }

  bio = BIO_new(BIO_s_mem());
  if (bio != NULL &&
      ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
    int n = BIO_read(bio, date, sizeof(date) - 1);

    date[n > 0 ? n : 0] = '\0';
  }
  BIO_free(bio);

  snprintf(buf, bufsz, "serial %s, notAfter %s", hex != NULL ? hex : "?",
    date);
  OPENSSL_free(hex);
  BN_free(bn);
  return buf;
}

int ftps_reload_same_chain(const STACK_OF(X509) *a,
    const STACK_OF(X509) *b) {
  int i, n = sk_X509_num(a);

  if (n < 0) {
    n = 0;
  }
  if (n != (sk_X509_num(b) > 0 ? sk_X509_num(b) : 0)) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0) {
      return 0;
    }
  }
  return 1;
}

char *ftps_reload_describe_chain(const STACK_OF(X509) *chain, char *buf,
    size_t bufsz) {
  int n = sk_X509_num(chain) > 0 ? sk_X509_num(chain) : 0;
  char subject[256] = "?", date[64] = "?";
  X509 *first;
  BIO *bio;

  if (n == 0) {
    snprintf(buf, bufsz, "no chain certificate");
    return buf;
  }
  first = sk_X509_value(chain, 0);
  bio = BIO_new(BIO_s_mem());
  if (bio != NULL &&
      X509_NAME_print_ex(bio, X509_get_subject_name(first), 0,
        XN_FLAG_RFC2253) >= 0) {
    int len = BIO_read(bio, subject, sizeof(subject) - 1);

    subject[len > 0 ? len : 0] = '\0';
  }
  if (bio != NULL &&
      BIO_reset(bio) >= 0 &&
      ASN1_TIME_print(bio, X509_get0_notAfter(first)) == 1) {
    int len = BIO_read(bio, date, sizeof(date) - 1);

    date[len > 0 ? len : 0] = '\0';
  }
  BIO_free(bio);
  snprintf(buf, bufsz, "%d certificate%s, the first %s, notAfter %s", n,
    n == 1 ? "" : "s", subject, date);
  return buf;
}

int ftps_reload_same_cert(const X509 *a, const X509 *b) {
  return a != NULL && b != NULL && X509_cmp(a, b) == 0;
}

/* covers - does cert cover name (flags: X509_check_host's)?  A wildcard
 * name ("*.example.org") is covered by a certificate that covers any
 * single label in its place. */
static int covers(X509 *cert, const char *name, unsigned int flags) {
  char probe[300];

  if (strncmp(name, "*.", 2) == 0) {
    snprintf(probe, sizeof(probe), "ftps-probe%s", name + 1);
    name = probe;
  }
  return X509_check_host(cert, name, 0, flags, NULL) == 1;
}

/* first_lost - the first name of names that cert does not cover */
static const char *first_lost(GENERAL_NAMES *names, X509 *cert, char *buf,
    size_t bufsz) {
  int i;

  for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
    const unsigned char *data;
    int len;

    if (gn->type == GEN_IPADD) {
      /* FTP clients often connect by address (RFC 6125 section 1.7.2:
       * an iPAddress entry is matched only as such). */
      data = ASN1_STRING_get0_data(gn->d.iPAddress);
      len = ASN1_STRING_length(gn->d.iPAddress);
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, data, buf,
            (socklen_t) bufsz) != NULL &&
          X509_check_ip(cert, data, (size_t) len, 0) != 1) {
        return buf;
      }
      continue;
    }
    if (gn->type != GEN_DNS) {
      continue;
    }
    data = ASN1_STRING_get0_data(gn->d.dNSName);
    len = ASN1_STRING_length(gn->d.dNSName);
    if (len <= 0 ||
        (size_t) len >= bufsz ||
        memchr(data, '\0', len) != NULL) {
      continue;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    /* A name of the subjectAltName must stay there: browsers and Go
     * clients no longer look at the common name (RFC 6125 6.4.4). */
    if (!covers(cert, buf, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)) {
      return buf;
    }
  }
  return NULL;
}

const char *ftps_reload_lost_name(const X509 *old, X509 *new, char *buf,
    size_t bufsz) {
  GENERAL_NAMES *names;
  const char *lost = NULL;
  int dns = 0, i;

  /* RFC 6125 section 6.4.4: the common name counts only without DNS
   * names in the subjectAltName; its addresses count in any case. */
  names = X509_get_ext_d2i(old, NID_subject_alt_name, NULL, NULL);
  for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
    dns += sk_GENERAL_NAME_value(names, i)->type == GEN_DNS;
  }
  lost = first_lost(names, new, buf, bufsz);
  if (lost == NULL &&
      dns == 0 &&
      X509_NAME_get_text_by_NID(X509_get_subject_name(old),
        NID_commonName, buf, (int) bufsz) > 0 &&
      !covers(new, buf, 0)) {
    lost = buf;
  }
  GENERAL_NAMES_free(names);
  return lost;
}

int ftps_reload_days_left(const X509 *cert, time_t now) {
  ASN1_TIME *t = ASN1_TIME_set(NULL, now);
  int days = 0, secs = 0;

  if (t == NULL ||
      ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(cert)) != 1) {
    days = 0;
  }
  ASN1_TIME_free(t);

  /* Round down: a certificate that expires in 20 hours has 0 days left,
   * and one that expired an hour ago has -1. */
  if (days <= 0 && secs < 0) {
    days--;
  }
  return days;
}

unsigned int ftps_reload_problems(const struct ftps_keypair *kp,
    time_t now) {
  unsigned int found = 0;

  if (kp == NULL || kp->cert == NULL) {
    return 0;
  }
  if (X509_cmp_time(X509_get0_notBefore(kp->cert), &now) > 0) {
    found |= FTPS_RELOAD_NOT_YET_VALID;
  }
  if (X509_cmp_time(X509_get0_notAfter(kp->cert), &now) <= 0) {
    found |= FTPS_RELOAD_EXPIRED;
  }

  /* A chain whose first certificate did not issue this one belongs to
   * another certificate: a renewal caught half-written, say. */
  if (kp->chain != NULL &&
      sk_X509_num(kp->chain) > 0 &&
      X509_check_issued(sk_X509_value(kp->chain, 0), kp->cert) !=
        X509_V_OK) {
    found |= FTPS_RELOAD_CHAIN_FOREIGN;
  }

  /* An issuer that has expired (a stale copy of the intermediate, same
   * name and key) fails every client that verifies.  Only the first: a
   * cross-signed root further on may be expired on purpose, for old
   * clients, and those that trust its issuer stop before it. */
  if (kp->chain != NULL &&
      sk_X509_num(kp->chain) > 0 &&
      (X509_cmp_time(X509_get0_notBefore(sk_X509_value(kp->chain, 0)),
         &now) > 0 ||
       X509_cmp_time(X509_get0_notAfter(sk_X509_value(kp->chain, 0)),
         &now) <= 0)) {
    found |= FTPS_RELOAD_CHAIN_DATES;
  }
  return found;
}

const char *ftps_reload_problem_str(unsigned int kind) {
  switch (kind) {
    case FTPS_RELOAD_NOT_YET_VALID:
      return "the certificate is not valid yet (notBefore in the future)";
    case FTPS_RELOAD_EXPIRED:
      return "the certificate has expired";
    case FTPS_RELOAD_CHAIN_FOREIGN:
      return "the first certificate of the chain did not issue the "
        "certificate";
    case FTPS_RELOAD_CHAIN_DATES:
      return "the first certificate of the chain, its issuer, has expired "
        "or is not valid yet";
  }
  return "unknown problem";
}

unsigned int ftps_reload_new_problems(const struct ftps_keypair *old,
    const struct ftps_keypair *kp, time_t now) {
  unsigned int found = ftps_reload_problems(kp, now), excused;

  /* Nothing served before (a server added by a restart): judged as at
   * the first start, which serves what it can read. */
  if (old == NULL || old->cert == NULL) {
    return 0;
  }

  /* A problem of the chain that what is served shares is not made worse
   * by a renewal that keeps it.  A problem of the certificate's own dates
   * is excused only for that very certificate read again: a new one must
   * be valid now, whatever the old one's problems. */
  excused = ftps_reload_problems(old, now) & FTPS_RELOAD_CHAIN_KINDS;
  if (ftps_reload_same_cert(old->cert, kp->cert)) {
    excused |= FTPS_RELOAD_DATE_KINDS;
  }
  return found & ~excused;
}

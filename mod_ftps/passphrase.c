/*
 * passphrase.c - passphrases of encrypted keys: from TLSPassPhraseProvider,
 * typed at the terminal, or remembered across restarts (ftps/passphrase.h).
 */
#define _GNU_SOURCE             /* close_range() */
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ftps/passphrase.h"

/* How long the provider may take, from its start to its first line. */
#define PASSPHRASE_TIMEOUT_MS 10000

/* Remembered passphrases, one per key file, in locked memory (never
 * swapped out) that is wiped when no longer needed.  The sizes are those
 * of what can be asked: OpenSSL hands a passphrase callback PEM_BUFSIZE
 * bytes, and a key path is shorter than struct ftps_keypair's key_path.
 * The area grows with the number of key files. */
#define CACHE_PATH_MAX  4096
#define CACHE_PASS_MAX  PEM_BUFSIZE
#define CACHE_FIRST     8

struct cache_entry {
  char path[CACHE_PATH_MAX];
  char pass[CACHE_PASS_MAX];
  int len;
};

/* The area outlives this DSO, which mod_dso unloads and loads again on
 * every restart: its address waits in the master's environment. */
#define CACHE_ENV       "MOD_FTPS_PASSPHRASE_PAGE"
#define CACHE_MAGIC     "mod_ftps pass 2"

struct cache_page {
  char magic[16];
  size_t size;                 /* bytes mapped */
  int nentries;                /* room for this many */
  struct cache_entry entries[];
};

static struct cache_page *cache = NULL;

/* The passphrase handed to OpenSSL last, until remembered or forgotten. */
static char last_pass[CACHE_PASS_MAX];
static int last_len = 0;

/* provider_child - in the forked child: stdout on the pipe, stdin on
 * /dev/null, no other descriptor of the master (scoreboard lock, log
 * files, sockets) and not the address of the passphrase area; then exec */
static void provider_child(struct ftps_passphrase_req *req, char *name_port,
    int out) {
  char *argv[4];
  int devnull = open("/dev/null", O_RDWR), fd;

  argv[0] = (char *) req->provider;
  argv[1] = name_port;
  argv[2] = (char *) req->key_type;
  argv[3] = NULL;

  if (dup2(out, STDOUT_FILENO) < 0 ||
      devnull < 0 ||
      dup2(devnull, STDIN_FILENO) < 0) {
    _exit(127);
  }
  if (close_range(3, ~0U, 0) < 0) {
    long max = sysconf(_SC_OPEN_MAX);

    for (fd = 3; fd < (max > 0 ? max : 65536); fd++) {
      (void) close(fd);
    }
  }
  (void) unsetenv(CACHE_ENV);
  execv(req->provider, argv);
  _exit(127);
}

/* run_provider - fork and exec the provider with its stdout on a pipe;
 * returns the child's pid and the pipe's read end in *fd, or -1 */
static pid_t run_provider(struct ftps_passphrase_req *req, int *fd) {
  char port[16], *name_port;
  int fds[2];
  pid_t pid;

  if (pipe(fds) < 0) {
    return -1;
  }

  snprintf(port, sizeof(port), "%u", (unsigned int) req->server->ServerPort);
  name_port = pstrcat(req->server->pool, req->server->ServerName ?
    req->server->ServerName : "", ":", port, NULL);

  pid = fork();
  if (pid == 0) {
    provider_child(req, name_port, fds[1]);
  }

  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  *fd = fds[0];
  return pid;
}

/* now_ms - a monotonic clock, in milliseconds */
static long long now_ms(void) {
  struct timespec ts;

  (void) clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* read_line - the provider's first line (without its end), read until its
 * newline or EOF, all within one deadline: the count, or -1 when no line
 * came in time */
static int read_line(int fd, char *buf, int bufsz) {
  long long deadline = now_ms() + PASSPHRASE_TIMEOUT_MS;
  int used = 0;

  while (used < bufsz - 1 &&
         memchr(buf, '\n', used) == NULL) {
    long long left = deadline - now_ms();
    struct pollfd pfd = { fd, POLLIN, 0 };
    ssize_t n;
    int res;

    if (left <= 0) {
      return -1;
    }
    res = poll(&pfd, 1, (int) left);
    if (res < 0 && errno == EINTR) {
      continue;
    }
    if (res <= 0) {
      return -1;
    }
    n = read(fd, buf + used, bufsz - 1 - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    used += n;
  }

  buf[used] = '\0';
  return (int) strcspn(buf, "\r\n");
}

/* end_provider - the answer is in (or not coming): a provider still
 * running is killed, so that it holds up neither startup nor restart;
 * returns its wait status */
static int end_provider(pid_t pid) {
  int status = 0;
  pid_t res;

  res = waitpid(pid, &status, WNOHANG);
  if (res == 0) {
    (void) kill(pid, SIGKILL);
    res = waitpid(pid, &status, 0);
  }
  while (res < 0 && errno == EINTR) {
    res = waitpid(pid, &status, 0);
  }
  return status;
}

/* cache_find - the entry of path, or NULL */
static struct cache_entry *cache_find(const char *path) {
  int i;

  for (i = 0; cache != NULL && path != NULL && i < cache->nentries; i++) {
    if (cache->entries[i].len > 0 &&
        strcmp(cache->entries[i].path, path) == 0) {
      return &cache->entries[i];
    }
  }
  return NULL;
}

/* cache_attach - the area a previous load of this module left, if any */
static void cache_attach(void) {
  const char *env = getenv(CACHE_ENV);
  struct cache_page *page = NULL;

  if (cache != NULL || env == NULL ||
      sscanf(env, "%p", (void **) &page) != 1 || page == NULL ||
      memcmp(page->magic, CACHE_MAGIC, sizeof(CACHE_MAGIC)) != 0) {
    return;
  }
  cache = page;
}

/* cache_map - a locked area with room for n entries, holding those of the
 * current one, which is wiped and unmapped; its address in CACHE_ENV */
static int cache_map(int n) {
  struct cache_page *page;
  size_t size = sizeof(*page) + (size_t) n * sizeof(struct cache_entry);
  char addr[64];

  page = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
    -1, 0);
  if (page == MAP_FAILED) {
    return -1;
  }
  if (mlock(page, size) < 0) {
    pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": cannot lock the passphrase "
      "cache in memory: %s", strerror(errno));
  }
  (void) madvise(page, size, MADV_DONTDUMP);
  memcpy(page->magic, CACHE_MAGIC, sizeof(CACHE_MAGIC));
  page->size = size;
  page->nentries = n;

  snprintf(addr, sizeof(addr), "%p", (void *) page);
  if (setenv(CACHE_ENV, addr, 1) < 0) {
    (void) munmap(page, size);
    return -1;
  }

  if (cache != NULL) {
    memcpy(page->entries, cache->entries,
      (size_t) cache->nentries * sizeof(struct cache_entry));
    size = cache->size;
    OPENSSL_cleanse(cache, size);
    (void) munlock(cache, size);
    (void) munmap(cache, size);
  }
  cache = page;
  return 0;
}

/* cache_slot - the entry for path: its own, a free one, or a new one in
 * a larger area; NULL when no memory can be had */
static struct cache_entry *cache_slot(const char *path) {
  struct cache_entry *e;
  int i, n;

  cache_attach();
  e = cache_find(path);
  for (i = 0; e == NULL && cache != NULL && i < cache->nentries; i++) {
    if (cache->entries[i].len == 0) {
      e = &cache->entries[i];
    }
  }
  if (e != NULL) {
    return e;
  }

  n = cache != NULL ? cache->nentries * 2 : CACHE_FIRST;
  i = cache != NULL ? cache->nentries : 0;
  if (cache_map(n) < 0) {
    return NULL;
  }
  return &cache->entries[i];
}

int ftps_passphrase_remember(const struct ftps_passphrase_req *req) {
  struct cache_entry *e = NULL;
  int res = 0, xerrno = 0;

  /* A provider is asked again at each restart: nothing to keep. */
  if (req != NULL && req->use_cache && req->key_path != NULL &&
      last_len > 0) {
    if (strlen(req->key_path) >= CACHE_PATH_MAX) {
      xerrno = ENAMETOOLONG;

    } else {
      e = cache_slot(req->key_path);
      xerrno = e == NULL ? errno : 0;
    }

    if (e != NULL) {
      sstrncpy(e->path, req->key_path, sizeof(e->path));
      memcpy(e->pass, last_pass, last_len);
      e->len = last_len;

    } else {
      res = -1;
    }
  }

  OPENSSL_cleanse(last_pass, sizeof(last_pass));
  last_len = 0;
  errno = xerrno;
  return res;
}

void ftps_passphrase_forget(const char *key_path) {
  int i;

  OPENSSL_cleanse(last_pass, sizeof(last_pass));
  last_len = 0;
  cache_attach();
  for (i = 0; cache != NULL && i < cache->nentries; i++) {
    if (key_path == NULL ||
        strcmp(cache->entries[i].path, key_path) == 0) {
      OPENSSL_cleanse(&cache->entries[i], sizeof(cache->entries[i]));
    }
  }
}

/* keep_last - note what is handed to OpenSSL, for remember() */
static int keep_last(const char *buf, int len) {
  if (len > 0 && len <= (int) sizeof(last_pass)) {
    memcpy(last_pass, buf, len);
    last_len = len;
  }
  return len;
}

/* read_typed - EVP_read_pw_string with SIGALRM held back: a master timer
 * (ticket key rotation, the certificate watch) firing while someone types
 * would end the terminal read with EINTR, taking the answer for the next
 * prompt; the alarm is delivered once the line is in.  0, or non-zero. */
static int read_typed(char *buf, int bufsz, const char *text) {
  sigset_t alrm, saved;
  int res;

  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  (void) sigprocmask(SIG_BLOCK, &alrm, &saved);
  res = EVP_read_pw_string(buf, bufsz, text, 0);
  (void) sigprocmask(SIG_SETMASK, &saved, NULL);
  return res;
}

/* prompt - ask at the terminal (an interactive start only: a daemon
 * started by init has no terminal, and must fail rather than hang) */
static int prompt(struct ftps_passphrase_req *req, char *buf, int bufsz) {
  char text[512];

  /* A reload (restart, renewal) keeps the last good key rather than
   * wait for someone at a terminal. */
  if (req->no_prompt) {
    snprintf(req->why, sizeof(req->why), "no TLSPassPhraseProvider is "
      "configured, and a reload cannot ask at the terminal");
    return -1;
  }

  if (!isatty(STDIN_FILENO)) {
    snprintf(req->why, sizeof(req->why), "no TLSPassPhraseProvider is "
      "configured, and there is no terminal to ask at");
    return -1;
  }

  snprintf(text, sizeof(text), "Enter the passphrase of the %s key %s "
    "(server '%s:%u'): ", req->key_type, req->key_path ? req->key_path : "",
    req->server->ServerName ? req->server->ServerName : "",
    (unsigned int) req->server->ServerPort);
  if (read_typed(buf, bufsz, text) != 0) {
    snprintf(req->why, sizeof(req->why), "no passphrase was typed");
    OPENSSL_cleanse(buf, bufsz);
    return -1;
  }
  req->prompted = TRUE;
  return keep_last(buf, (int) strlen(buf));
}

int ftps_passphrase_cb(char *buf, int bufsz, int rwflag, void *arg) {
  struct ftps_passphrase_req *req = arg;
  struct cache_entry *e;
  int fd = -1, len;
  pid_t pid;

  (void) rwflag;
  if (req == NULL || bufsz < 2) {
    return -1;
  }

  cache_attach();
  e = req->use_cache ? cache_find(req->key_path) : NULL;
  if (e != NULL &&
      e->len < bufsz) {
    memcpy(buf, e->pass, e->len);
    req->used_cache = TRUE;
    return keep_last(buf, e->len);
  }

  if (req->provider == NULL) {
    return prompt(req, buf, bufsz);
  }

  /* Each wait for a silent provider holds up the master for 10 seconds:
   * once per reload, not once per key (many vhosts share one key). */
  if (req->give_up) {
    req->gave_up = TRUE;
    snprintf(req->why, sizeof(req->why), "%s gave no passphrase within 10 "
      "seconds for another key just before; not asked again now",
      req->provider);
    return -1;
  }

  pid = run_provider(req, &fd);
  if (pid < 0) {
    snprintf(req->why, sizeof(req->why), "cannot run %s: %s", req->provider,
      strerror(errno));
    return -1;
  }

  /* The first line is the answer, whatever the provider does after it. */
  len = read_line(fd, buf, bufsz);
  close(fd);
  (void) end_provider(pid);

  if (len <= 0) {
    req->timed_out = len < 0;
    snprintf(req->why, sizeof(req->why), "%s gave no passphrase%s",
      req->provider, len < 0 ? " within 10 seconds" : " (or failed)");
    pr_memscrub(buf, bufsz);
    return -1;
  }

  req->answered = TRUE;
  return keep_last(buf, len);
}

void ftps_passphrase_sess_init(void) {
  /* Sessions never read keys: wipe this process's copy of the remembered
   * passphrases, and the variable that points to them. */
  ftps_passphrase_forget(NULL);
  (void) unsetenv(CACHE_ENV);
}

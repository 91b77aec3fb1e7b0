/*
 * passphrase.c - passphrases of encrypted keys: from TLSPassPhraseProvider,
 * typed at the terminal, or remembered across restarts (ftps/passphrase.h).
 */
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ftps/passphrase.h"

/* How long the provider may take. */
#define PASSPHRASE_TIMEOUT_MS 10000

/* Remembered passphrases, one per key file, in one page that is locked
 * (never swapped out) and wiped when no longer needed. */
#define CACHE_ENTRIES   8
#define CACHE_PATH_MAX  512
#define CACHE_PASS_MAX  256

struct cache_entry {
  char path[CACHE_PATH_MAX];
  char pass[CACHE_PASS_MAX];
  int len;
};

/* The page outlives this DSO, which mod_dso unloads and loads again on
 * every restart: its address waits in the master's environment. */
#define CACHE_ENV       "MOD_FTPS_PASSPHRASE_PAGE"
#define CACHE_MAGIC     "mod_ftps pass 1"

struct cache_page {
  char magic[16];
  struct cache_entry entries[CACHE_ENTRIES];
};

static struct cache_entry *cache = NULL;

/* The passphrase handed to OpenSSL last, until remembered or forgotten. */
static char last_pass[CACHE_PASS_MAX];
static int last_len = 0;

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
    char *argv[4];
    int devnull = open("/dev/null", O_RDWR);

    argv[0] = (char *) req->provider;
    argv[1] = name_port;
    argv[2] = (char *) req->key_type;
    argv[3] = NULL;

    (void) dup2(fds[1], STDOUT_FILENO);
    if (devnull >= 0) {
      (void) dup2(devnull, STDIN_FILENO);
    }
    close(fds[0]);
    close(fds[1]);
    execv(req->provider, argv);
    _exit(127);
  }

  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  *fd = fds[0];
  return pid;
}

/* read_line - up to bufsz-1 bytes of the provider's output within the
 * timeout; returns the count, or -1 */
static int read_line(int fd, char *buf, int bufsz) {
  int used = 0;

  while (used < bufsz - 1) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    ssize_t n;

    if (poll(&pfd, 1, PASSPHRASE_TIMEOUT_MS) <= 0) {
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

  /* The first line only, without its end. */
  buf[used] = '\0';
  return (int) strcspn(buf, "\r\n");
}

/* cache_find - the entry of path, or NULL */
static struct cache_entry *cache_find(const char *path) {
  int i;

  for (i = 0; cache != NULL && path != NULL && i < CACHE_ENTRIES; i++) {
    if (cache[i].len > 0 &&
        strcmp(cache[i].path, path) == 0) {
      return &cache[i];
    }
  }
  return NULL;
}

/* cache_attach - the page a previous load of this module left, if any */
static void cache_attach(void) {
  const char *env = getenv(CACHE_ENV);
  struct cache_page *page = NULL;

  if (cache != NULL || env == NULL ||
      sscanf(env, "%p", (void **) &page) != 1 || page == NULL ||
      memcmp(page->magic, CACHE_MAGIC, sizeof(CACHE_MAGIC)) != 0) {
    return;
  }
  cache = page->entries;
}

/* cache_alloc - the locked page, once per daemon */
static int cache_alloc(void) {
  struct cache_page *page;
  char addr[64];

  cache_attach();
  if (cache != NULL) {
    return 0;
  }
  page = mmap(NULL, sizeof(*page), PROT_READ|PROT_WRITE,
    MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    return -1;
  }
  if (mlock(page, sizeof(*page)) < 0) {
    pr_log_debug(DEBUG3, MOD_FTPS_VERSION ": cannot lock the passphrase "
      "cache in memory: %s", strerror(errno));
  }
  (void) madvise(page, sizeof(*page), MADV_DONTDUMP);
  memcpy(page->magic, CACHE_MAGIC, sizeof(CACHE_MAGIC));

  snprintf(addr, sizeof(addr), "%p", (void *) page);
  if (setenv(CACHE_ENV, addr, 1) < 0) {
    (void) munmap(page, sizeof(*page));
    return -1;
  }
  cache = page->entries;
  return 0;
}

void ftps_passphrase_remember(const struct ftps_passphrase_req *req) {
  struct cache_entry *e;
  int i;

  if (req == NULL || req->key_path == NULL || last_len <= 0 ||
      strlen(req->key_path) >= CACHE_PATH_MAX ||
      cache_alloc() < 0) {
    OPENSSL_cleanse(last_pass, sizeof(last_pass));
    last_len = 0;
    return;
  }

  e = cache_find(req->key_path);
  for (i = 0; e == NULL && i < CACHE_ENTRIES; i++) {
    if (cache[i].len == 0) {
      e = &cache[i];
    }
  }
  if (e != NULL) {
    sstrncpy(e->path, req->key_path, sizeof(e->path));
    memcpy(e->pass, last_pass, last_len);
    e->len = last_len;
  }
  OPENSSL_cleanse(last_pass, sizeof(last_pass));
  last_len = 0;
}

void ftps_passphrase_forget(const char *key_path) {
  int i;

  OPENSSL_cleanse(last_pass, sizeof(last_pass));
  last_len = 0;
  cache_attach();
  for (i = 0; cache != NULL && i < CACHE_ENTRIES; i++) {
    if (key_path == NULL ||
        strcmp(cache[i].path, key_path) == 0) {
      OPENSSL_cleanse(&cache[i], sizeof(cache[i]));
    }
  }
}

/* keep_last - note what is handed to OpenSSL, for remember() */
static int keep_last(const char *buf, int len) {
  if (len > 0 && len < (int) sizeof(last_pass)) {
    memcpy(last_pass, buf, len);
    last_len = len;
  }
  return len;
}

/* prompt - ask at the terminal (an interactive start only: a daemon
 * started by init has no terminal, and must fail rather than hang) */
static int prompt(struct ftps_passphrase_req *req, char *buf, int bufsz) {
  char text[512];

  if (!isatty(STDIN_FILENO)) {
    snprintf(req->why, sizeof(req->why), "no TLSPassPhraseProvider is "
      "configured, and there is no terminal to ask at");
    return -1;
  }

  snprintf(text, sizeof(text), "Enter the passphrase of the %s key %s "
    "(server '%s:%u'): ", req->key_type, req->key_path ? req->key_path : "",
    req->server->ServerName ? req->server->ServerName : "",
    (unsigned int) req->server->ServerPort);
  if (EVP_read_pw_string(buf, bufsz, text, 0) != 0) {
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
  int fd = -1, len, status = 0;
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

  pid = run_provider(req, &fd);
  if (pid < 0) {
    snprintf(req->why, sizeof(req->why), "cannot run %s: %s", req->provider,
      strerror(errno));
    return -1;
  }

  len = read_line(fd, buf, bufsz);
  close(fd);
  if (len < 0) {
    (void) kill(pid, SIGKILL);
  }
  (void) waitpid(pid, &status, 0);

  if (len <= 0 ||
      !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    snprintf(req->why, sizeof(req->why), "%s gave no passphrase%s",
      req->provider, len < 0 ? " in time" : " (or failed)");
    pr_memscrub(buf, bufsz);
    return -1;
  }

  return keep_last(buf, len);
}

void ftps_passphrase_sess_init(void) {
  /* Sessions never read keys: wipe this process's copy of the remembered
   * passphrases, and the variable that points to them. */
  ftps_passphrase_forget(NULL);
  (void) unsetenv(CACHE_ENV);
}

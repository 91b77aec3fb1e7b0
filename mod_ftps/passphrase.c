/*
 * passphrase.c - passphrases from TLSPassPhraseProvider (ftps/passphrase.h).
 */
#include <poll.h>
#include <sys/wait.h>

#include "ftps/passphrase.h"

/* How long the provider may take. */
#define PASSPHRASE_TIMEOUT_MS 10000

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

int ftps_passphrase_cb(char *buf, int bufsz, int rwflag, void *arg) {
  struct ftps_passphrase_req *req = arg;
  int fd = -1, len, status = 0;
  pid_t pid;

  (void) rwflag;
  if (req == NULL || req->provider == NULL || bufsz < 2) {
    return -1;
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

  return len;
}

/*
 * fuzz.h - pieces shared by the libFuzzer harnesses of tests/fuzz.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput over one lower-layer
 * file (the Makefile's PURE_SRCS: no ProFTPD in the process), checks what
 * the code promises about its answers with FUZZ_ASSERT, and is built with
 * -fsanitize=fuzzer,address,undefined by "make fuzz" (see README.md,
 * Fuzzing).  A broken promise aborts, which libFuzzer reports as a crash.
 */
#ifndef FTPS_FUZZ_H
#define FTPS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* FUZZ_ASSERT - a broken promise: say which and abort */
#define FUZZ_ASSERT(cond)                                               \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__,          \
        __LINE__, #cond);                                               \
      abort();                                                          \
    }                                                                   \
  } while (0)

#define FUZZ_MAX_ARGS 32

/* struct fuzz_args - the input cut into words, as a directive's arguments
 * arrive (ProFTPD splits a configuration line on blanks): one copy of the
 * input, words NUL-terminated in it.  A word holds any byte but blanks,
 * newlines and NUL; the separators are those. */
struct fuzz_args {
  char *buf;
  int argc;
  const char *argv[FUZZ_MAX_ARGS + 1];
};

static inline int fuzz_is_sep(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

/* fuzz_args_split - words of data into args (at most FUZZ_MAX_ARGS; the
 * rest are dropped); 0, or -1 when out of memory */
static inline int fuzz_args_split(struct fuzz_args *args, const uint8_t *data,
    size_t size) {
  size_t i = 0;

  args->argc = 0;
  args->buf = malloc(size + 1);
  if (args->buf == NULL) {
    return -1;
  }
  if (size > 0) {
    memcpy(args->buf, data, size);
  }
  args->buf[size] = '\0';

  while (i < size && args->argc < FUZZ_MAX_ARGS) {
    while (i < size && fuzz_is_sep(args->buf[i])) {
      args->buf[i++] = '\0';
    }
    if (i >= size) {
      break;
    }
    args->argv[args->argc++] = args->buf + i;
    while (i < size && !fuzz_is_sep(args->buf[i])) {
      i++;
    }
    if (i < size) {
      args->buf[i++] = '\0';
    }
  }
  args->argv[args->argc] = NULL;
  return 0;
}

static inline void fuzz_args_free(struct fuzz_args *args) {
  free(args->buf);
  args->buf = NULL;
}

/* fuzz_strdup - data as a NUL-terminated string (embedded NULs stay: the
 * string then ends at the first) */
static inline char *fuzz_strdup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);

  if (s != NULL) {
    if (size > 0) {
      memcpy(s, data, size);
    }
    s[size] = '\0';
  }
  return s;
}

#endif /* FTPS_FUZZ_H */

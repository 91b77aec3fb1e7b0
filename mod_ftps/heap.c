/*
 * heap.c - the master's free heap chunks taken before sessions fork (see
 * ftps/heap.h).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ftps/heap.h"

#define HEAP_MAX_PLUGS   100000       /* allocations per call, at most */
#define HEAP_TCACHE_ROOM (512 * 1024) /* free chunks mallinfo2() counts as
                                       * used (glibc's per-thread cache) */
#define HEAP_BIG_MAX     (64 * 1024)  /* below the mmap threshold */
#define HEAP_SMALL_MAX   1024         /* one size class at a time up to here */
#define HEAP_RELEASE_MAX 64           /* pieces of HEAP_BIG_MAX: the top is
                                       * released up to 4 MB */
#define HEAP_EDGE_SIZE   (2 * HEAP_SMALL_MAX) /* above the sizes glibc's
                                       * per-thread cache and fast bins keep */

struct plug {
  struct plug *next;
};

static struct plug *plugs = NULL;

/* Set from a restart until the next build: this DSO is unloaded and
 * loaded again in between, so the mark waits in the environment (and is
 * gone before any session forks). */
#define HEAP_RESTART_ENV "MOD_FTPS_HEAP_RESTART"

/* edge_free - give back p (a request of size), just carved from the top
 * chunk.  A small chunk freed as it is would wait in glibc's per-thread
 * cache, never joined to the top again: one chunk of each small size, about
 * 33 kB, that the next build fills and the next plug takes, so that every
 * restart left the heap's top that much higher.  Grown in place into the
 * top first, the chunk is too big for that cache and goes back into the
 * top.  Where the top has no room for that, it is kept with the plugs
 * instead (until the next restart), not cached at the edge. */
static void edge_free(struct plug *p, size_t size) {
  if (size <= HEAP_SMALL_MAX) {
    struct plug *q;

    if (mallinfo2().keepcost < HEAP_EDGE_SIZE) {
      p->next = plugs;
      plugs = p;
      return;
    }
    q = realloc(p, HEAP_EDGE_SIZE);
    if (q != NULL) {
      p = q;
    }
  }
  free(p);
}

/* plug_size - take free chunks for requests of size until one comes from
 * the top (at or above top), or the limits are reached; the bytes taken */
static size_t plug_size(size_t size, uintptr_t top, size_t room,
    size_t *count) {
  size_t kept = 0;

  while (*count < HEAP_MAX_PLUGS && kept + size <= room) {
    struct plug *p = malloc(size);

    if (p == NULL) {
      break;
    }
    if ((uintptr_t) p >= top) {
      /* Next to the top: where the session's allocations should go. */
      edge_free(p, size);
      break;
    }
    p->next = plugs;
    plugs = p;
    kept += size;
    (*count)++;
  }
  return kept;
}

/* release_top - give the kernel back the whole pages of the top chunk:
 * the probes above wrote chunk headers into them, and those pages would
 * stay resident in the master, a few more after every restart as the top
 * moves by a few bytes.  The top is taken with malloc() in pieces below the
 * mmap threshold, so that only memory this function owns is released (the
 * top's place is never guessed), then given back: the pieces join the top
 * again, last first. */
static void release_top(void) {
  uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
  struct plug *taken = NULL, *p;
  int i;

  if (page == 0 || (page & (page - 1)) != 0) {
    return;
  }
  for (i = 0; i < HEAP_RELEASE_MAX; i++) {
    size_t top = mallinfo2().keepcost, len;
    uintptr_t start, end;

    if (top < 4 * page) {
      break;
    }
    len = top - 2 * page < HEAP_BIG_MAX ? top - 2 * page : HEAP_BIG_MAX;
    p = malloc(len);
    if (p == NULL) {
      break;
    }
    start = ((uintptr_t) (p + 1) + page - 1) & ~(page - 1);
    end = ((uintptr_t) p + len) & ~(page - 1);
    if (start < end) {
      (void) madvise((void *) start, end - start, MADV_DONTNEED);
    }
    p->next = taken;
    taken = p;
    if (mallinfo2().keepcost >= top) {
      break;      /* not from the top (a hole, or mmap()) */
    }
  }
  while (taken != NULL) {
    p = taken;
    taken = p->next;
    free(p);
  }
}

size_t ftps_heap_plug(void) {
  struct mallinfo2 mi;
  uintptr_t top;
  size_t size, room, kept = 0, count = 0;
  void *brk;

  brk = sbrk(0);
  mi = mallinfo2();
  if (brk == (void *) -1 || mi.arena == 0 || mi.keepcost > mi.arena ||
      mi.keepcost > mi.fordblks) {
    return 0;
  }

  /* The top chunk ends at the break (a main arena grown by brk()); what
   * lies below it and is free is at most fordblks less the top. */
  top = (uintptr_t) brk - mi.keepcost;
  room = mi.fordblks - mi.keepcost + HEAP_TCACHE_ROOM;

  /* Big first, so that the split remainders go to the smaller sizes; then
   * each small size class, as glibc keeps those apart. */
  for (size = HEAP_BIG_MAX; size > HEAP_SMALL_MAX; size /= 2) {
    kept += plug_size(size, top, room - kept, &count);
  }
  for (size = HEAP_SMALL_MAX; size >= 32; size -= 16) {
    kept += plug_size(size - sizeof(size_t), top, room - kept, &count);
  }
  release_top();
  return kept;
}

void ftps_heap_unplug(void) {
  while (plugs != NULL) {
    struct plug *p = plugs;

    plugs = p->next;
    free(p);
  }
}

void ftps_heap_restart(void) {
  ftps_heap_unplug();
  (void) setenv(HEAP_RESTART_ENV, "1", 1);
}

size_t ftps_heap_plug_before_build(void) {
  /* After a restart, the free chunks are mostly the old contexts: the new
   * ones must reuse them.  Taken, they would push the new contexts onto
   * fresh heap at every restart, and the master would grow by a set of
   * contexts (about 1 MB) each time.  The plug after the build still
   * keeps the holes from the sessions. */
  if (getenv(HEAP_RESTART_ENV) != NULL) {
    (void) unsetenv(HEAP_RESTART_ENV);
    return 0;
  }
  return ftps_heap_plug();
}

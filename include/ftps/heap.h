/*
 * ftps/heap.h - the master's free heap chunks taken before sessions fork.
 *
 * After start-up (configuration, certificates, warm-up handshakes) the
 * master's heap is full of small free chunks between live objects.  A
 * session's malloc() reuses them first, and its first write to each copies
 * the whole 4 KiB page it shares with the master's live data: a handshake
 * scatters its allocations over dozens of such pages.  Taken by the master
 * (and never written again), they leave a session's allocations to the
 * heap's top, packed on fresh pages that malloc_trim() can give back.
 *
 * glibc malloc only: the top of the heap is found with sbrk(0) and
 * mallinfo2()'s keepcost; where that does not hold, nothing is taken.
 */
#ifndef FTPS_HEAP_H
#define FTPS_HEAP_H

#include <stddef.h>

/* ftps_heap_plug - allocate the free chunks below the heap's top and keep
 * them (in addition to what earlier calls kept), then hand the top's whole
 * pages back to the kernel.  Call it last before sessions fork (after
 * every module has built its configuration): what is allocated after it
 * goes to the top, and the holes that leaves are taken by the next call.
 * Returns the bytes kept by this call. */
size_t ftps_heap_plug(void);

/* ftps_heap_unplug - give back everything ftps_heap_plug() kept (at a
 * restart, before the configuration is read again) */
void ftps_heap_unplug(void);

/* ftps_heap_restart - at a restart: give back what was kept, and note
 * that the next build follows a restart */
void ftps_heap_restart(void);

/* ftps_heap_plug_before_build - ftps_heap_plug() before the contexts are
 * built (so that OpenSSL's long-lived objects lie side by side), except
 * after ftps_heap_restart(): then the memory the old contexts freed is
 * left to the new ones, and nothing is taken (0) */
size_t ftps_heap_plug_before_build(void);

#endif /* FTPS_HEAP_H */

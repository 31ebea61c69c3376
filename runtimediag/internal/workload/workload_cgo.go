//go:build cgo

package workload

/*
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void **md_alloc(size_t count, size_t size) {
	void **p = calloc(count, sizeof(void *));
	if (p == NULL) return NULL;
	for (size_t i = 0; i < count; i++) {
		p[i] = malloc(size);
		if (p[i] == NULL) {
			for (size_t j = 0; j < i; j++) free(p[j]);
			free(p);
			return NULL;
		}
		memset(p[i], 1, size);
	}
	return p;
}

static void md_free(void **p, size_t count) {
	for (size_t i = 0; i < count; i++) free(p[i]);
	free(p);
	malloc_trim(0);
}

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, ready, started;
	size_t touch;
	pthread_t *tids;
} md_threads;

static __attribute__((noinline)) void md_touch_stack(size_t n) {
	volatile char buf[n];
	memset((char *)buf, 1, n);
	buf[0] = buf[n - 1];
}

static void *md_thread(void *arg) {
	md_threads *t = arg;
	md_touch_stack(t->touch);
	pthread_mutex_lock(&t->mu);
	t->ready++;
	pthread_cond_broadcast(&t->cv);
	while (!t->stop) pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void md_threads_stop(md_threads *t) {
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	for (int i = 0; i < t->started; i++) pthread_join(t->tids[i], NULL);
	free(t->tids);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static md_threads *md_threads_start(int n, size_t touch) {
	md_threads *t = calloc(1, sizeof *t);
	if (t == NULL) return NULL;
	t->tids = calloc(n, sizeof(pthread_t));
	if (t->tids == NULL) { free(t); return NULL; }
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->touch = touch;
	for (; t->started < n; t->started++) {
		if (pthread_create(&t->tids[t->started], NULL, md_thread, t) != 0) {
			md_threads_stop(t);
			return NULL;
		}
	}
	pthread_mutex_lock(&t->mu);
	while (t->ready < n) pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	return t;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Available reports whether the workloads can run (the package was built with cgo).
const Available = true

// CHeap is memory allocated with C's malloc and written to, so it is resident.
type CHeap struct {
	once  sync.Once
	ptrs  *unsafe.Pointer
	count int
}

// Malloc allocates count blocks of size bytes each with malloc, one at a time, and writes every
// byte. glibc serves blocks under its mmap threshold (128 KiB by default) from its arenas and gives
// larger ones a mapping of their own.
func Malloc(count, size int) (*CHeap, error) {
	p := C.md_alloc(C.size_t(count), C.size_t(size))
	if p == nil {
		return nil, fmt.Errorf("workload: malloc of %d × %d bytes failed", count, size)
	}
	return &CHeap{ptrs: (*unsafe.Pointer)(unsafe.Pointer(p)), count: count}, nil
}

// Free frees every block and has glibc return its free memory to the OS (malloc_trim), so that
// freed blocks do not stay resident in the arenas for the next measurement; it is idempotent.
func (h *CHeap) Free() {
	h.once.Do(func() { C.md_free((*unsafe.Pointer)(unsafe.Pointer(h.ptrs)), C.size_t(h.count)) })
}

// Threads are pthreads created in C, each of which has written to part of its stack and waits.
type Threads struct {
	once sync.Once
	t    *C.md_threads
}

// StartThreads creates n pthreads with the default attributes (an 8 MiB stack under the usual
// RLIMIT_STACK), each writing touch bytes of its stack, and returns once all have.
func StartThreads(n, touch int) (*Threads, error) {
	t := C.md_threads_start(C.int(n), C.size_t(touch))
	if t == nil {
		return nil, fmt.Errorf("workload: starting %d pthreads failed", n)
	}
	return &Threads{t: t}, nil
}

// Stop ends and joins the threads; it is idempotent.
func (t *Threads) Stop() { t.once.Do(func() { C.md_threads_stop(t.t) }) }

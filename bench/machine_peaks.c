// The machine's ceilings for the model benchmark: memory read bandwidth (both cores streaming a
// buffer far larger than the caches) and F32 multiply-add peak (independent FMA chains in
// registers), printed as JSON. Built and run by bench/run.py:  clang -O2 -pthread machine_peaks.c
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float vf16 __attribute__((ext_vector_type(16)));
typedef float vf8 __attribute__((ext_vector_type(8)));

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

enum { THREADS = 2 };
static size_t bytes_per_thread = (size_t)512 << 20;
static char *buffers[THREADS];

// Sums the buffer 64 bytes at a time (the sum keeps the loads alive).
static void *read_all(void *arg) {
    const vf16 *p = (const vf16 *)buffers[(intptr_t)arg];
    size_t n = bytes_per_thread / sizeof(vf16);
    vf16 a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) { a += p[i]; b += p[i + 1]; c += p[i + 2]; d += p[i + 3]; }
    vf16 s = a + b + c + d;
    static volatile float sink; sink = s[0];
    return NULL;
}

#define CHAINS 12
__attribute__((target("avx512f,fma"))) static void *fma512(void *arg) {
    (void)arg;
    vf16 acc[CHAINS]; vf16 m = 0.999999f, k = 1e-7f;
    for (int c = 0; c < CHAINS; c++) acc[c] = (float)c;
    for (long i = 0; i < 50000000; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = __builtin_elementwise_fma(acc[c], m, k);
    static volatile float sink; vf16 s = 0; for (int c = 0; c < CHAINS; c++) s += acc[c]; sink = s[0];
    return NULL;
}

__attribute__((target("avx2,fma"))) static void *fma256(void *arg) {
    (void)arg;
    vf8 acc[CHAINS]; vf8 m = 0.999999f, k = 1e-7f;
    for (int c = 0; c < CHAINS; c++) acc[c] = (float)c;
    for (long i = 0; i < 50000000; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = __builtin_elementwise_fma(acc[c], m, k);
    static volatile float sink; vf8 s = 0; for (int c = 0; c < CHAINS; c++) s += acc[c]; sink = s[0];
    return NULL;
}

static double run(void *(*fn)(void *)) {
    pthread_t t[THREADS];
    double start = now();
    for (intptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, fn, (void *)i);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return now() - start;
}

int main(void) {
    for (int i = 0; i < THREADS; i++) {
        buffers[i] = aligned_alloc(64, bytes_per_thread);
        memset(buffers[i], 1, bytes_per_thread);
    }
    double best = 1e9;
    for (int r = 0; r < 5; r++) { double t = run(read_all); if (t < best) best = t; }
    double gbs = THREADS * bytes_per_thread / best / 1e9;
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    double t = run(has512 ? fma512 : fma256);
    double lanes = has512 ? 16 : 8;
    double gflops = THREADS * 50000000.0 * CHAINS * lanes * 2 / t / 1e9;
    printf("{\"read_gb_s\": %.1f, \"f32_fma_gflops\": %.1f, \"threads\": %d, \"fma_width\": %d}\n", gbs, gflops, THREADS, (int)lanes * 32);
    return 0;
}

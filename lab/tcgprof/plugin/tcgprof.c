/*
 * snp-go's TCG profiling plugin (see profile.go): counts the guest
 * instructions executed at each translation-block start address.
 *
 *   -plugin tcgprof.so,out=FILE
 *
 * Output, at exit and whenever FILE.snap appears (the snapshot is written
 * to FILE.N, N = 1, 2, ..., and FILE.snap removed): one line per block,
 * "<hex guest vaddr> <instructions executed>". Counting is an inline add per
 * block execution, so QEMU stays close to its normal speed.
 *
 * Written against QEMU's plugin API version 1 (QEMU 7.2, Debian 12). The
 * few declarations used are restated here so no QEMU development header is
 * needed: Debian ships none.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t plugin_id;
struct qemu_plugin_tb;
typedef void (*trans_cb)(plugin_id, struct qemu_plugin_tb *);
typedef void (*exit_cb)(plugin_id, void *);
enum { PLUGIN_INLINE_ADD_U64 = 0 };
void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id, trans_cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, int, void *, uint64_t);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
void qemu_plugin_register_atexit_cb(plugin_id, exit_cb, void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* A block gets one record per translation; records of one address are
 * summed when written. Records are never freed and are linked in only
 * once complete, so a snapshot thread can walk the list at any time. */
struct block {
	uint64_t vaddr, insns, execs;
	struct block *next;
};

static struct block *blocks, *pool;
static size_t pool_left;
static char out[4000];

static struct block *new_block(void)
{
	if (pool_left == 0) {
		pool_left = 1 << 16;
		pool = calloc(pool_left, sizeof *pool);
		if (!pool)
			abort();
	}
	pool_left--;
	return pool++;
}

static void on_translate(plugin_id id, struct qemu_plugin_tb *tb)
{
	struct block *b = new_block();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	b->next = __atomic_load_n(&blocks, __ATOMIC_RELAXED);
	__atomic_store_n(&blocks, b, __ATOMIC_RELEASE);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, PLUGIN_INLINE_ADD_U64, &b->execs, 1);
}

static int by_vaddr(const void *a, const void *b)
{
	const struct block *x = *(struct block *const *)a, *y = *(struct block *const *)b;
	return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

static void write_counts(const char *path)
{
	struct block *head = __atomic_load_n(&blocks, __ATOMIC_ACQUIRE), *b, **v;
	size_t n = 0, i, j;
	for (b = head; b; b = b->next)
		n++;
	v = malloc((n + 1) * sizeof *v);
	if (!v)
		return;
	for (b = head, i = 0; b && i < n; b = b->next)
		v[i++] = b;
	qsort(v, n, sizeof *v, by_vaddr);
	char tmp[4100];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f) {
		for (i = 0; i < n; i = j) {
			uint64_t sum = 0;
			for (j = i; j < n && v[j]->vaddr == v[i]->vaddr; j++)
				sum += v[j]->insns * __atomic_load_n(&v[j]->execs, __ATOMIC_RELAXED);
			if (sum)
				fprintf(f, "%llx %llu\n", (unsigned long long)v[i]->vaddr, (unsigned long long)sum);
		}
		fclose(f);
		rename(tmp, path); /* readers see a whole file or none */
	}
	free(v);
}

static void at_exit(plugin_id id, void *p) { write_counts(out); }

static void *snapshots(void *p)
{
	char trigger[4100], path[4100];
	snprintf(trigger, sizeof trigger, "%s.snap", out);
	for (int n = 1;; usleep(5000)) {
		if (access(trigger, F_OK) != 0)
			continue;
		snprintf(path, sizeof path, "%s.%d", out, n++);
		write_counts(path);
		unlink(trigger);
	}
	return NULL;
}

__attribute__((visibility("default"))) int qemu_plugin_install(plugin_id id, const void *info, int argc, char **argv)
{
	snprintf(out, sizeof out, "tcgprof.txt");
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "out=", 4) == 0)
			snprintf(out, sizeof out, "%s", argv[i] + 4);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, snapshots, NULL) == 0)
		pthread_detach(t);
	return 0;
}

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
 *   -plugin tcgprof.so,out=FILE,tlb=BITS
 *
 * also models QEMU's data TLB (accel/tcg/cputlb.c: one direct-mapped table
 * of 2^BITS entries indexed by page number, CPU_TLB_DYN_DEFAULT_BITS = 8
 * until the guest flushes its TLB, and an 8-entry victim TLB,
 * CPU_VTLB_SIZE) over every load and store, and writes with each
 * snapshot FILE.N.tlbi, "<hex instruction vaddr> <misses>", and
 * FILE.N.tlbp, "<hex data page> <misses>": the misses, each a guest page
 * table walk in QEMU, that the instruction or the page caused. This calls
 * back on every access, so QEMU runs several times slower.
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
struct qemu_plugin_insn;
typedef void (*mem_cb)(unsigned int, uint32_t, uint64_t, void *);
enum { PLUGIN_CB_NO_REGS = 0 };
enum { PLUGIN_MEM_RW = 3 };
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *, mem_cb, int, int, void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* A record counts at one guest address: a translation block (weight: its
 * instructions; count: its executions) or, under the TLB model, one
 * instruction (weight 1; count: its misses). An address gets one record per
 * translation; records of one address are summed when written. Records are
 * never freed and are linked in only once complete, so a snapshot thread
 * can walk a list at any time. */
struct rec {
	uint64_t vaddr, weight, count;
	struct rec *next;
};

static struct rec *blocks, *insns, *pool;
static size_t pool_left;
static char out[4000];

/* new_rec links a new record for vaddr into *list (translation callbacks
 * only: they run one at a time). */
static struct rec *new_rec(struct rec **list, uint64_t vaddr, uint64_t weight)
{
	if (pool_left == 0) {
		pool_left = 1 << 16;
		pool = calloc(pool_left, sizeof *pool);
		if (!pool)
			abort();
	}
	pool_left--;
	struct rec *r = pool++;
	r->vaddr = vaddr;
	r->weight = weight;
	r->next = __atomic_load_n(list, __ATOMIC_RELAXED);
	__atomic_store_n(list, r, __ATOMIC_RELEASE);
	return r;
}

/* The TLB model (tlb=BITS). One vCPU (the lab's machines have one), so
 * the callbacks run on one thread; a snapshot reads the counters racily,
 * which at worst misses the last few. */
#define VTLB 8
#define PAGES (1 << 20) /* data pages tracked, open addressing */
static int tlb_bits;
static uint64_t *tlb, vtlb[VTLB], vnext;
static uint64_t page_key[PAGES], page_misses[PAGES];

static void page_miss(uint64_t page)
{
	uint64_t key = page + 1; /* 0 marks a free slot */
	for (uint64_t i = (page * 0x9e3779b97f4a7c15ull) >> 44;; i = (i + 1) & (PAGES - 1)) {
		uint64_t k = __atomic_load_n(&page_key[i], __ATOMIC_RELAXED);
		if (k == key) {
			__atomic_store_n(&page_misses[i], page_misses[i] + 1, __ATOMIC_RELAXED);
			return;
		}
		if (k == 0) {
			page_misses[i] = 1;
			__atomic_store_n(&page_key[i], key, __ATOMIC_RELEASE);
			return;
		}
	}
}

/* on_access is QEMU's tlb_fill decision for one access: a hit in the main
 * table, else a hit in the victim TLB (swapped in), else a miss (filled,
 * the evicted entry saved in the victim TLB round robin). */
static void on_access(unsigned int vcpu, uint32_t info, uint64_t vaddr, void *p)
{
	uint64_t page = vaddr >> 12, tag = page + 1;
	uint64_t *e = &tlb[page & ((1ull << tlb_bits) - 1)];
	if (*e == tag)
		return;
	for (int i = 0; i < VTLB; i++) {
		if (vtlb[i] == tag) {
			vtlb[i] = *e;
			*e = tag;
			return;
		}
	}
	if (*e)
		vtlb[vnext++ % VTLB] = *e;
	*e = tag;
	struct rec *in = p;
	__atomic_store_n(&in->count, in->count + 1, __ATOMIC_RELAXED);
	page_miss(page);
}

static void on_translate(plugin_id id, struct qemu_plugin_tb *tb)
{
	if (tlb_bits) {
		size_t n = qemu_plugin_tb_n_insns(tb);
		for (size_t i = 0; i < n; i++) {
			struct qemu_plugin_insn *qi = qemu_plugin_tb_get_insn(tb, i);
			struct rec *in = new_rec(&insns, qemu_plugin_insn_vaddr(qi), 1);
			qemu_plugin_register_vcpu_mem_cb(qi, on_access, PLUGIN_CB_NO_REGS, PLUGIN_MEM_RW, in);
		}
	}
	struct rec *b = new_rec(&blocks, qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_n_insns(tb));
	qemu_plugin_register_vcpu_tb_exec_inline(tb, PLUGIN_INLINE_ADD_U64, &b->count, 1);
}

static int by_vaddr(const void *a, const void *b)
{
	const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;
	return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

/* write_list writes path, "<hex vaddr> <sum of weight x count>" per
 * address, through a temporary file: readers see a whole file or none. */
static void write_list(struct rec **list, const char *path)
{
	struct rec *head = __atomic_load_n(list, __ATOMIC_ACQUIRE), *r, **v;
	size_t n = 0, i, j;
	for (r = head; r; r = r->next)
		n++;
	v = malloc((n + 1) * sizeof *v);
	if (!v)
		return;
	for (r = head, i = 0; r && i < n; r = r->next)
		v[i++] = r;
	qsort(v, n, sizeof *v, by_vaddr);
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f) {
		for (i = 0; i < n; i = j) {
			uint64_t sum = 0;
			for (j = i; j < n && v[j]->vaddr == v[i]->vaddr; j++)
				sum += v[j]->weight * __atomic_load_n(&v[j]->count, __ATOMIC_RELAXED);
			if (sum)
				fprintf(f, "%llx %llu\n", (unsigned long long)v[i]->vaddr, (unsigned long long)sum);
		}
		fclose(f);
		rename(tmp, path);
	}
	free(v);
}

/* write_pages writes path, "<hex page address> <misses>" per data page. */
static void write_pages(const char *path)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (size_t i = 0; i < PAGES; i++) {
		uint64_t k = __atomic_load_n(&page_key[i], __ATOMIC_ACQUIRE);
		if (k)
			fprintf(f, "%llx %llu\n", (unsigned long long)(k - 1) << 12,
				(unsigned long long)__atomic_load_n(&page_misses[i], __ATOMIC_RELAXED));
	}
	fclose(f);
	rename(tmp, path);
}

static void write_all(const char *path)
{
	if (tlb_bits) { /* first: the counts file is what readers wait for */
		char name[4100];
		snprintf(name, sizeof name, "%s.tlbi", path);
		write_list(&insns, name);
		snprintf(name, sizeof name, "%s.tlbp", path);
		write_pages(name);
	}
	write_list(&blocks, path);
}

static void at_exit(plugin_id id, void *p) { write_all(out); }

static void *snapshots(void *p)
{
	char trigger[4100], path[4100];
	snprintf(trigger, sizeof trigger, "%s.snap", out);
	for (int n = 1;; usleep(5000)) {
		if (access(trigger, F_OK) != 0)
			continue;
		snprintf(path, sizeof path, "%s.%d", out, n++);
		write_all(path);
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
		else if (strncmp(argv[i], "tlb=", 4) == 0)
			tlb_bits = atoi(argv[i] + 4);
	if (tlb_bits < 0 || tlb_bits > 24)
		tlb_bits = 8;
	if (tlb_bits) {
		tlb = calloc(1ull << tlb_bits, sizeof *tlb);
		if (!tlb)
			abort();
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, snapshots, NULL) == 0)
		pthread_detach(t);
	return 0;
}

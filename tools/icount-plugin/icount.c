/*
 * icount.so: a QEMU TCG plugin that counts the guest instructions each vCPU executes
 * between marker instructions (markers.h) and prints the counts when the guest executes
 * the dump marker. README.md says what it is for and how to read its output.
 *
 * Counting: every instruction but a marker gets an inline add of 1 to `executed`, run
 * before the instruction; every block gets a callback that, when the vCPU changes,
 * charges what was executed since the last change to the vCPU that ran it. That is exact
 * because QEMU with -icount runs the vCPUs one at a time in one thread (it refuses
 * multi-threaded TCG), switching only between blocks. A marker gets a callback instead of
 * the add, which counts the marker itself under the state before it and then acts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "markers.h"
#include "qemu-plugin-api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct vcpu {
    uint64_t total;                        /* every instruction since QEMU started */
    uint64_t region;                       /* those executed while the region was open */
    uint64_t held[MARK_LOCK_CLASSES];      /* ... and while holding a lock of the class */
    uint64_t acquired[MARK_LOCK_CLASSES];  /* acquire markers while the region was open */
    unsigned depth[MARK_LOCK_CLASSES];     /* acquires not yet released */
    uint32_t holding;                      /* bit C set: depth[C] > 0 */
};

static uint64_t executed; /* instructions started, on any vCPU */
static uint64_t charged;  /* the part of `executed` already given to a vCPU */
static unsigned current;  /* the vCPU that executed the rest */
static struct vcpu *vcpus;
static unsigned nvcpus;
static unsigned region_depth; /* starts not yet stopped, over all vCPUs */
static unsigned starts;       /* start markers since the last dump */
static unsigned dumps;
static FILE *out;

static void charge(void)
{
    uint64_t n = executed - charged;
    struct vcpu *v = &vcpus[current];

    charged = executed;
    v->total += n;
    if (region_depth > 0) {
        v->region += n;
        for (uint32_t h = v->holding; h; h &= h - 1) {
            v->held[__builtin_ctz(h)] += n;
        }
    }
}

static void switch_to(unsigned vcpu)
{
    if (vcpu >= nvcpus) {
        fprintf(stderr, "icount: vCPU %u of %u\n", vcpu, nvcpus);
        abort();
    }
    if (vcpu != current) {
        charge();
        current = vcpu;
    }
}

static void block_exec(unsigned vcpu, void *udata)
{
    (void)udata;
    switch_to(vcpu);
}

static void dump(void)
{
    fprintf(out, "icount dump=%u vcpus=%u starts=%u\n", ++dumps, nvcpus, starts);
    for (unsigned i = 0; i < nvcpus; i++) {
        fprintf(out, "icount vcpu=%u region=%llu total=%llu\n", i,
                (unsigned long long)vcpus[i].region, (unsigned long long)vcpus[i].total);
    }
    for (unsigned c = 0; c < MARK_LOCK_CLASSES; c++) {
        uint64_t sum = 0, max = 0, acquired = 0;
        for (unsigned i = 0; i < nvcpus; i++) {
            sum += vcpus[i].held[c];
            acquired += vcpus[i].acquired[c];
            if (vcpus[i].held[c] > max) {
                max = vcpus[i].held[c];
            }
        }
        if (acquired || sum) {
            fprintf(out, "icount lock=%u held=%llu held_max=%llu acquired=%llu\n", c,
                    (unsigned long long)sum, (unsigned long long)max,
                    (unsigned long long)acquired);
        }
    }
    fprintf(out, "icount end dump=%u\n", dumps);
    fflush(out);
    starts = 0;
    for (unsigned i = 0; i < nvcpus; i++) {
        vcpus[i].region = 0;
        memset(vcpus[i].held, 0, sizeof(vcpus[i].held));
        memset(vcpus[i].acquired, 0, sizeof(vcpus[i].acquired));
    }
}

static void marker(unsigned vcpu, void *udata)
{
    unsigned imm = (unsigned)(uintptr_t)udata;
    struct vcpu *v;

    switch_to(vcpu);
    executed++;
    charge();
    v = &vcpus[vcpu];
    if (imm == MARK_REGION_START) {
        region_depth++;
        starts++;
    } else if (imm == MARK_REGION_STOP) {
        if (region_depth > 0) {
            region_depth--;
        }
    } else if (imm == MARK_DUMP) {
        dump();
    } else if (imm >= MARK_LOCK_ACQUIRE && imm < MARK_LOCK_ACQUIRE + MARK_LOCK_CLASSES) {
        unsigned c = imm - MARK_LOCK_ACQUIRE;
        if (v->depth[c]++ == 0) {
            v->holding |= 1u << c;
        }
        if (region_depth > 0) {
            v->acquired[c]++;
        }
    } else if (imm >= MARK_LOCK_RELEASE && imm < MARK_LOCK_RELEASE + MARK_LOCK_CLASSES) {
        unsigned c = imm - MARK_LOCK_RELEASE;
        if (v->depth[c] > 0 && --v->depth[c] == 0) {
            v->holding &= ~(1u << c);
        }
    }
}

/* The marker number of an instruction, or -1 (the guest is little-endian, as the host). */
static int marker_of(const struct qemu_plugin_insn *insn)
{
    uint32_t op;
    unsigned imm;

    if (qemu_plugin_insn_size(insn) != 4) {
        return -1;
    }
    memcpy(&op, qemu_plugin_insn_data(insn), 4);
    if ((op & HINT_MASK) != HINT_BITS) {
        return -1;
    }
    imm = (op >> 5) & 0x7f;
    if (imm == MARK_REGION_START || imm == MARK_REGION_STOP || imm == MARK_DUMP ||
        (imm >= MARK_LOCK_ACQUIRE && imm < MARK_LOCK_ACQUIRE + MARK_LOCK_CLASSES) ||
        (imm >= MARK_LOCK_RELEASE && imm < MARK_LOCK_RELEASE + MARK_LOCK_CLASSES)) {
        return (int)imm;
    }
    return -1;
}

static void block_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    (void)id;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, block_exec, QEMU_PLUGIN_CB_NO_REGS, NULL);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        int m = marker_of(insn);
        if (m < 0) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &executed, 1);
        } else {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, marker, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)m);
        }
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    if (info->version.min > QEMU_PLUGIN_VERSION || info->version.cur < QEMU_PLUGIN_VERSION) {
        fprintf(stderr, "icount: built for plugin API %d, QEMU offers %d..%d\n",
                QEMU_PLUGIN_VERSION, info->version.min, info->version.cur);
        return -1;
    }
    if (!info->system_emulation || strcmp(info->target_name, "aarch64") != 0) {
        fprintf(stderr, "icount: needs qemu-system-aarch64\n");
        return -1;
    }
    out = stderr;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out = fopen(argv[i] + 4, "w");
            if (!out) {
                perror(argv[i] + 4);
                return -1;
            }
        } else {
            fprintf(stderr, "icount: unknown argument %s (takes out=FILE)\n", argv[i]);
            return -1;
        }
    }
    nvcpus = info->system.max_vcpus > 0 ? (unsigned)info->system.max_vcpus : 1;
    vcpus = calloc(nvcpus, sizeof(*vcpus));
    if (!vcpus) {
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, block_translate);
    return 0;
}

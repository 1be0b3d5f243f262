/*
 * startup: a program with no C library at all (-nostdlib -static), so nothing hides how
 * the kernel starts it. _start gets sp pointing at argc; it checks the Linux initial
 * stack: 16-byte alignment, argv and envp arrays ending in NULL, and the auxiliary vector
 * (AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_HWCAP, AT_EXECFN ...),
 * prints what it found and exits with the number of failed checks.
 */
typedef unsigned long u64;

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_ENTRY 9
#define AT_HWCAP 16
#define AT_RANDOM 25
#define AT_EXECFN 31

static long sys3(long nr, long a, long b, long c)
{
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

static u64 slen(const char *s) __attribute__((noinline));
static u64 slen(const char *s)
{
    u64 n = 0;
    while (*(volatile const char *)(s + n))
        n++;
    return n;
}

static void puts_(const char *s) { sys3(64, 1, (long)s, (long)slen(s)); }

static void putnum(u64 v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do {
        buf[--i] = '0' + v % 10;
        v /= 10;
    } while (v);
    puts_(buf + i);
}

static int failures;

static void check(int ok, const char *what)
{
    puts_(ok ? "ok   " : "FAIL ");
    puts_(what);
    puts_("\n");
    failures += !ok;
}

extern const char __ehdr_start[];
void _start(void);

__attribute__((used)) static void start_c(u64 *sp)
{
    u64 argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    u64 envc = 0;
    while (envp[envc])
        envc++;
    u64 *auxv = (u64 *)(envp + envc + 1);
    u64 at[32];
    for (int i = 0; i < 32; i++)
        ((volatile u64 *)at)[i] = 0;
    for (u64 *a = auxv; a[0] != AT_NULL; a += 2)
        if (a[0] < 32)
            at[a[0]] = a[1];

    check(((u64)sp & 15) == 0, "sp is 16-byte aligned at the entry point");
    check(argc >= 1 && argv[argc] == 0, "argv has argc entries and ends in NULL");
    puts_("argc = ");
    putnum(argc);
    puts_("\n");
    for (u64 i = 0; i < argc; i++) {
        puts_("argv[");
        putnum(i);
        puts_("] = ");
        puts_(argv[i]);
        puts_("\n");
    }
    for (u64 i = 0; i < envc; i++) {
        puts_("envp: ");
        puts_(envp[i]);
        puts_("\n");
    }
    const u64 phoff = *(const u64 *)(__ehdr_start + 32);
    const unsigned short phnum = *(const unsigned short *)(__ehdr_start + 56);
    check(at[AT_PHDR] == (u64)__ehdr_start + phoff, "AT_PHDR is where our program headers are");
    check(at[AT_PHENT] == 56, "AT_PHENT is sizeof(Elf64_Phdr)");
    check(at[AT_PHNUM] == phnum, "AT_PHNUM matches the ELF header");
    check(at[AT_PAGESZ] == 4096, "AT_PAGESZ is 4096");
    check(at[AT_ENTRY] == (u64)_start, "AT_ENTRY is _start");
    check((at[AT_HWCAP] & 3) == 3, "AT_HWCAP has FP and ASIMD");
    const unsigned char *rnd = (const unsigned char *)at[AT_RANDOM];
    int nonzero = 0;
    for (int i = 0; rnd && i < 16; i++)
        nonzero |= rnd[i];
    check(rnd && nonzero, "AT_RANDOM points at 16 bytes that are not all zero");
    check(at[AT_EXECFN] && slen((const char *)at[AT_EXECFN]) > 0,
          "AT_EXECFN names the program");
    check((u64)argv[0] > (u64)sp && (u64)envp[envc - (envc > 0)] > (u64)sp,
          "the strings lie above the pointer arrays");
    sys3(94, failures, 0, 0); /* exit_group */
}

__asm__(".global _start\n"
        "_start:\n"
        "  mov x0, sp\n"
        "  bl start_c\n");

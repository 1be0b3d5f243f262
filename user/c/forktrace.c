/*
 * forktrace: run a command and print the life of every process and thread it creates,
 * as it happens, the way `strace -f` would show just that:
 *
 *   [pid 5] +++ started (SIGSTOP) +++
 *   [pid 5] execve("/cdemo", ["/cdemo"]) = 0
 *   [pid 5] clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD) = 6
 *   [pid 6] +++ started (SIGSTOP) +++
 *   [pid 6] exit_group(3)
 *   [pid 6] +++ exited with 3 +++
 *   [pid 5] wait4(6) = 6
 *
 * It is a ptrace(2) tracer: the command runs under PTRACE_TRACEME; the options
 * PTRACE_O_TRACEFORK, TRACEVFORK and TRACECLONE make the kernel attach every new child
 * (it starts stopped by SIGSTOP, from copy_process's ptrace_init_task) and stop the
 * parent with the child's pid (kernel_clone's ptrace_event_pid); TRACEEXEC stops after
 * an execve; PTRACE_SYSCALL stops at every syscall's entry (x7 = 0) and exit (x7 = 1),
 * where the number is x8 and the arguments x0-x5. A clone is printed at its event, so
 * that a vfork parent's line comes before its child's; a new task's first stop is
 * printed right after.
 *
 * `forktrace -n CMD...` numbers the pids 1, 2, ... in order of appearance, and runs each
 * new task alone until it exits: its creator stays in the stop of its fork, vfork or
 * clone event until then, so that only one task of the tree runs at any time. Two
 * kernels (or two runs, on any number of CPUs) then print the same lines in the same
 * order, whatever their schedulers do; nothing is sorted or left out afterwards. The
 * price: a command whose tasks must run side by side hangs or changes under -n (a
 * thread waiting for its creator; `yes | head -1`, whose writer never ends; a
 * `sleep 9 &` the shell means to kill sleeps its 9 s first); leave -n out for those.
 *
 * As strace does, forktrace looks a command without a slash up in PATH itself and
 * execs the file it found, so `forktrace sh -c 'ls | wc -l'` shows one execve.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TASKS 512

/* struct user_pt_regs (arm64). */
struct regs {
    uint64_t x[31], sp, pc, pstate;
};

struct task {
    pid_t pid;
    int nr;          /* normalised pid */
    int started;     /* its first stop was printed */
    int held;        /* its first stop was seen before its parent's event: not resumed */
    long scno;       /* the syscall it is in, from its entry stop */
    uint64_t args[6];
    char exec[1024]; /* an execve's path and arguments, read at its entry */
    pid_t held_for;  /* with -n: stopped at its clone event while this child runs alone */
};

static struct task tasks[MAX_TASKS];
static int normalise, next_nr = 1;

static struct task *find(pid_t pid)
{
    for (int i = 0; i < MAX_TASKS; i++)
        if (tasks[i].pid == pid)
            return &tasks[i];
    for (int i = 0; i < MAX_TASKS; i++)
        if (tasks[i].pid == 0) {
            memset(&tasks[i], 0, sizeof tasks[i]);
            tasks[i].pid = pid;
            tasks[i].nr = next_nr++;
            tasks[i].scno = -1;
            return &tasks[i];
        }
    fprintf(stderr, "forktrace: too many tasks\n");
    exit(1);
}

/* A pid as printed: itself, or its number with -n. */
static long shown(long pid)
{
    if (!normalise || pid <= 0)
        return pid;
    return find(pid)->nr;
}

static void get_regs(pid_t pid, struct regs *r)
{
    struct iovec iov = { r, sizeof *r };
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
        memset(r, 0, sizeof *r);
}

/* The word at addr of the tracee (0 if it cannot be read). */
static uint64_t peek(pid_t pid, uint64_t addr)
{
    errno = 0;
    long w = ptrace(PTRACE_PEEKDATA, pid, (void *)addr, 0);
    return errno ? 0 : (uint64_t)w;
}

/* Append the tracee's string at addr to out, quoted and escaped as strace does (\" \\
 * \n \t, other control bytes in octal). */
static void peek_string(pid_t pid, uint64_t addr, char *out, size_t room)
{
    size_t n = strlen(out);
    if (n + 3 >= room)
        return;
    out[n++] = '"';
    for (int done = 0; !done && addr;) {
        uint64_t w = peek(pid, addr);
        for (int i = 0; i < 8; i++) {
            unsigned char c = (unsigned char)(w >> (8 * i));
            char esc[5] = { 0 };
            if (c == '"' || c == '\\')
                esc[0] = '\\', esc[1] = (char)c;
            else if (c == '\n')
                strcpy(esc, "\\n");
            else if (c == '\t')
                strcpy(esc, "\\t");
            else if (c != 0 && (c < ' ' || c == 0x7f))
                snprintf(esc, sizeof esc, "\\%o", c);
            else
                esc[0] = (char)c;
            size_t len = strlen(esc);
            if (c == 0 || n + len + 2 > room) {
                done = 1;
                break;
            }
            memcpy(out + n, esc, len);
            n += len;
        }
        addr += 8;
    }
    out[n++] = '"';
    out[n] = 0;
}

static const char *signame(int sig)
{
    static char buf[16];
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGCHLD: return "SIGCHLD";
    case SIGCONT: return "SIGCONT";
    case SIGSTOP: return "SIGSTOP";
    case SIGTSTP: return "SIGTSTP";
    }
    snprintf(buf, sizeof buf, "%d", sig);
    return buf;
}

/* clone's flags as names, the exit signal last. */
static void print_flags(uint64_t flags, int exit_signal)
{
    static const struct { uint64_t bit; const char *name; } names[] = {
        { 0x100, "CLONE_VM" }, { 0x200, "CLONE_FS" }, { 0x400, "CLONE_FILES" },
        { 0x800, "CLONE_SIGHAND" }, { 0x2000, "CLONE_PTRACE" }, { 0x4000, "CLONE_VFORK" },
        { 0x8000, "CLONE_PARENT" }, { 0x10000, "CLONE_THREAD" },
        { 0x40000, "CLONE_SYSVSEM" }, { 0x80000, "CLONE_SETTLS" },
        { 0x100000, "CLONE_PARENT_SETTID" }, { 0x200000, "CLONE_CHILD_CLEARTID" },
        { 0x800000, "CLONE_UNTRACED" }, { 0x1000000, "CLONE_CHILD_SETTID" },
    };
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].bit) {
            printf("%s%s", sep, names[i].name);
            sep = "|";
            flags &= ~names[i].bit;
        }
    if (flags)
        printf("%s%#llx", sep, (unsigned long long)flags), sep = "|";
    if (exit_signal)
        printf("%s%s", sep, signame(exit_signal));
    else if (!*sep)
        printf("0");
}

/* The first stop of a new task: printed once, then it runs. */
static void started(struct task *t)
{
    printf("[pid %ld] +++ started (SIGSTOP) +++\n", shown(t->pid));
    t->started = 1;
    t->held = 0;
    ptrace(PTRACE_SYSCALL, t->pid, 0, 0);
}

/* The parent p stopped for its fork, vfork or clone of child: print the call, then the
 * child's first stop, waiting for it if it has not come yet. */
static void clone_event(struct task *p, pid_t child)
{
    struct task *c = find(child);
    uint64_t flags;
    printf("[pid %ld] ", shown(p->pid));
    if (p->scno == SYS_clone3) {
        flags = peek(p->pid, p->args[0]);
        uint64_t exit_signal = peek(p->pid, p->args[0] + 32);
        printf("clone3({flags=");
        print_flags(flags, (int)exit_signal);
        printf("})");
    } else {
        flags = p->args[0];
        printf("clone(");
        print_flags(flags & ~0xffULL, (int)(flags & 0xff));
        printf(")");
    }
    printf(" = %ld\n", shown(child));
    if (!c->held) {
        int status;
        if (waitpid(child, &status, __WALL) != child || !WIFSTOPPED(status)) {
            printf("[pid %ld] did not start stopped\n", shown(child));
            return;
        }
    }
    started(c);
}

static void syscall_entry(struct task *t, struct regs *r)
{
    t->scno = (long)r->x[8];
    memcpy(t->args, r->x, sizeof t->args);
    switch (t->scno) {
    case SYS_execve: {
        /* The path and the arguments, as many as fit (up to 32); "..." for the rest. */
        size_t room = sizeof t->exec - 8;
        t->exec[0] = 0;
        peek_string(t->pid, r->x[0], t->exec, room);
        strcat(t->exec, ", [");
        for (int i = 0;; i++) {
            uint64_t a = peek(t->pid, r->x[1] + 8 * i);
            if (!a)
                break;
            if (i == 32 || strlen(t->exec) + 8 >= room) {
                strcat(t->exec, i ? ", ..." : "...");
                break;
            }
            if (i)
                strcat(t->exec, ", ");
            peek_string(t->pid, a, t->exec, room);
        }
        strcat(t->exec, "]");
        break;
    }
    case SYS_exit_group:
        printf("[pid %ld] exit_group(%d)\n", shown(t->pid), (int)r->x[0]);
        break;
    case SYS_exit:
        printf("[pid %ld] exit(%d)\n", shown(t->pid), (int)r->x[0]);
        break;
    }
}

static void syscall_exit(struct task *t, struct regs *r)
{
    long ret = (long)r->x[0];
    switch (t->scno) {
    case SYS_execve:
        printf("[pid %ld] execve(%s) = %ld%s%s\n", shown(t->pid), t->exec, ret < 0 ? -1 : ret,
               ret < 0 ? " " : "", ret < 0 ? strerror((int)-ret) : "");
        break;
    case SYS_wait4:
        if (ret >= 0)
            printf("[pid %ld] wait4(%ld) = %ld\n", shown(t->pid), shown((int)t->args[0]),
                   shown(ret));
        break;
    }
    t->scno = -1;
}

/* The file a command names: itself if it has a slash, else the first executable
 * PATH/command (PATH as execvp's default if unset); NULL if there is none. */
static const char *find_in_path(const char *cmd)
{
    static char buf[4096];
    if (strchr(cmd, '/'))
        return cmd;
    const char *p = getenv("PATH");
    if (!p)
        p = "/bin:/usr/bin";
    while (*p) {
        size_t len = strcspn(p, ":");
        if (snprintf(buf, sizeof buf, "%.*s%s%s", (int)len, p, len ? "/" : "", cmd) <
                (int)sizeof buf &&
            access(buf, X_OK) == 0)
            return buf;
        p += len;
        if (*p == ':')
            p++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int a = 1;
    for (; a < argc && argv[a][0] == '-'; a++)
        if (strcmp(argv[a], "-n") == 0)
            normalise = 1;
        else
            a = argc;
    if (a >= argc) {
        fprintf(stderr, "usage: forktrace [-n] COMMAND [ARG...]\n");
        return 2;
    }
    const char *path = find_in_path(argv[a]);
    if (!path) {
        fprintf(stderr, "forktrace: %s: not found\n", argv[a]);
        return 127;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t root = fork();
    if (root == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(path, &argv[a]);
        perror("forktrace: execv");
        _exit(127);
    }
    int status, root_status = 0;
    if (waitpid(root, &status, 0) != root || !WIFSTOPPED(status)) {
        fprintf(stderr, "forktrace: the command did not stop\n");
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, root, 0,
           PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
           PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC);
    started(find(root));
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0)
            break;
        struct task *t = find(pid);
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            /* A thread's end is its exit line; a process's, this. */
            if (WIFEXITED(status) && (t->scno != SYS_exit || pid == root))
                printf("[pid %ld] +++ exited with %d +++\n", shown(pid), WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                printf("[pid %ld] +++ killed by %s +++\n", shown(pid), signame(WTERMSIG(status)));
            if (pid == root)
                root_status = status;
            for (int i = 0; i < MAX_TASKS; i++)
                if (tasks[i].pid && tasks[i].held_for == pid) {
                    tasks[i].held_for = 0;
                    ptrace(PTRACE_SYSCALL, tasks[i].pid, 0, 0);
                }
            /* Its entry stays, so that a wait4 for it shows its number. */
            continue;
        }
        if (!WIFSTOPPED(status))
            continue;
        int sig = WSTOPSIG(status), event = status >> 16, deliver = 0;
        if (sig == (SIGTRAP | 0x80)) {
            struct regs r;
            get_regs(pid, &r);
            if (r.x[7] == 0)
                syscall_entry(t, &r);
            else
                syscall_exit(t, &r);
        } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
                   event == PTRACE_EVENT_CLONE) {
            unsigned long child;
            ptrace(PTRACE_GETEVENTMSG, pid, 0, &child);
            clone_event(t, (pid_t)child);
            if (normalise) {
                /* The same order on every run: the new task first, alone. */
                t->held_for = (pid_t)child;
                continue;
            }
        } else if (event) {
            /* PTRACE_EVENT_EXEC: the execve's exit stop says it. */
        } else if (!t->started && sig == SIGSTOP) {
            /* A new task, before its parent's event: held until then. */
            t->held = 1;
            continue;
        } else {
            if (sig != SIGCHLD)
                printf("[pid %ld] --- %s ---\n", shown(pid), signame(sig));
            deliver = sig;
        }
        ptrace(PTRACE_SYSCALL, pid, 0, deliver);
    }
    if (WIFSIGNALED(root_status))
        return 128 + WTERMSIG(root_status);
    return WEXITSTATUS(root_status);
}

/*
 * cdemo: an ordinary C program, built with Debian's aarch64-linux-gnu-gcc -static and run
 * unmodified on forkos. It uses glibc's printf, malloc, fork, vfork, waitpid,
 * posix_spawn, execve, signal handlers and pthreads, and prints the same lines on forkos
 * as on Linux.
 *
 *   cdemo            run every part
 *   cdemo exec-child  (internal) what execve and posix_spawn start
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int data_word = 42;
static char bss_buf[1 << 20];
static __thread int tls_counter = 100;

static void part(const char *name) { printf("== %s\n", name); }

static void test_malloc(void)
{
    part("malloc");
    char *small[64];
    for (int i = 0; i < 64; i++) {
        small[i] = malloc(24 + i);
        memset(small[i], i, 24 + i);
    }
    int ok = 1;
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 24 + i; j++)
            ok &= small[i][j] == (char)i;
    for (int i = 0; i < 64; i++)
        free(small[i]);
    printf("64 small blocks: %s\n", ok ? "ok" : "CORRUPT");

    /* Large enough that glibc serves it with mmap (M_MMAP_THRESHOLD is 128 KiB). */
    size_t big = 4 << 20;
    unsigned char *p = malloc(big);
    for (size_t i = 0; i < big; i += 4096)
        p[i] = (unsigned char)(i >> 12);
    ok = 1;
    for (size_t i = 0; i < big; i += 4096)
        ok &= p[i] == (unsigned char)(i >> 12);
    printf("4 MiB block: %s\n", ok ? "ok" : "CORRUPT");
    free(p);

    char *r = malloc(10);
    strcpy(r, "realloc");
    r = realloc(r, 300000);
    printf("realloc keeps \"%s\"\n", r);
    free(r);
}

static void test_fork(void)
{
    part("fork");
    memset(bss_buf, 'p', sizeof bss_buf);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        data_word = 7;
        memset(bss_buf, 'c', sizeof bss_buf / 2);
        printf("child: fork returned 0, data_word=%d, bss=%c...%c\n", data_word, bss_buf[0],
               bss_buf[sizeof bss_buf - 1]);
        exit(3);
    }
    int status;
    pid_t w = waitpid(pid, &status, 0);
    printf("parent: waitpid returned the child: %s\n", w == pid ? "yes" : "no");
    if (WIFEXITED(status))
        printf("parent: child exited with %d\n", WEXITSTATUS(status));
    printf("parent: data_word=%d, bss=%c...%c\n", data_word, bss_buf[0],
           bss_buf[sizeof bss_buf - 1]);

    pid = fork();
    if (pid == 0) {
        int *volatile bad = (int *)16;
        *bad = 1; /* SIGSEGV */
        _exit(0);
    }
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("parent: second child killed by signal %d\n", WTERMSIG(status));
}

static void test_vfork(void)
{
    part("vfork");
    volatile int shared = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        shared = 1; /* the parent's memory: it is suspended until we exit */
        _exit(5);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("vfork child wrote the parent's memory: %s, exit status %d\n",
           shared ? "yes" : "no", WEXITSTATUS(status));
}

static void test_spawn_exec(const char *self)
{
    part("posix_spawn");
    char *argv[] = {(char *)self, "exec-child", "spawned", "with", "args", NULL};
    char *envp[] = {"FORKOS=1", "COLOR=green", NULL};
    pid_t pid;
    int err = posix_spawn(&pid, self, NULL, NULL, argv, envp);
    /* The result is printed once the child is gone: the spawned program runs beside
     * this one, and which of the two printed first would be the scheduler's choice. */
    int status;
    int reaped = !err && waitpid(pid, &status, 0) == pid;
    printf("posix_spawn: %s\n", err ? strerror(err) : "ok");
    if (reaped)
        printf("spawned program exited with %d\n", WEXITSTATUS(status));
    err = posix_spawn(&pid, "/no/such/program", NULL, NULL, argv, envp);
    printf("posix_spawn of a missing file: %s\n", strerror(err));

    part("execve");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char *a[] = {(char *)self, "exec-child", "from", "execve", NULL};
        char *e[] = {"ONLY=this", NULL};
        execve(self, a, e);
        printf("execve failed: %s\n", strerror(errno));
        _exit(127);
    }
    waitpid(pid, &status, 0);
    printf("exec'd program exited with %d\n", WEXITSTATUS(status));
    char *a[] = {"x", NULL};
    printf("execve of a missing file: %s\n",
           execve("/missing", a, environ) ? strerror(errno) : "??");
}

static volatile sig_atomic_t got_signal;
static volatile int got_code;

static void on_usr1(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    got_signal = sig;
    got_code = info->si_code;
}

static void test_signals(void)
{
    part("signals");
    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("raise(SIGUSR1): handler got signal %d, si_code %d\n", got_signal, got_code);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    got_signal = 0;
    kill(getpid(), SIGUSR1);
    printf("blocked: handler ran: %s\n", got_signal ? "yes" : "no");
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("unblocked: handler ran: %s, si_code %d\n", got_signal ? "yes" : "no", got_code);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_IGN);
        raise(SIGTERM);
        _exit(6);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child ignoring SIGTERM raised it and exited with %d\n", WEXITSTATUS(status));
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready;

static void *worker(void *arg)
{
    long id = (long)arg;
    tls_counter += (int)id; /* each thread has its own copy */
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    ready++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return (void *)(long)tls_counter;
}

static void test_threads(void)
{
    part("pthreads");
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    pthread_mutex_lock(&lock);
    while (ready < 4)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        printf("thread %d: its __thread variable ended at %ld\n", i + 1, (long)ret);
    }
    printf("counter = %ld (4 threads x 1000 locked increments)\n", counter);
    printf("main thread's __thread variable: %d\n", tls_counter);
}

static int exec_child(int argc, char **argv)
{
    printf("exec-child: argc=%d", argc);
    for (int i = 1; i < argc; i++)
        printf(" [%s]", argv[i]);
    printf("\nexec-child: env");
    for (char **e = environ; *e; e++)
        printf(" [%s]", *e);
    printf("\n");
    return 9;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
        return exec_child(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("cdemo: hello from glibc's printf, %d + %d = %d\n", 2, 3, 2 + 3);
    test_malloc();
    test_fork();
    test_vfork();
    test_spawn_exec("/cdemo");
    test_signals();
    test_threads();
    printf("cdemo: done\n");
    return 0;
}

/*
 * exectest: execve from a glibc program, checked against Linux. Error numbers for bad
 * paths, bad pointers, oversized arguments and files that are not programs; arguments
 * and environment arriving intact; vfork + execve releasing the parent; execve from a
 * process with several threads.
 *
 * Needs the files the test archive holds: /exectest itself, /notelf (text), /x86elf
 * (an x86-64 ELF), /truncated (the first 100 bytes of an ELF), /noexec (mode 0644).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *self = "/exectest";

static const char *errname(int e)
{
    switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EACCES: return "EACCES";
    case ENOEXEC: return "ENOEXEC";
    case EFAULT: return "EFAULT";
    case E2BIG: return "E2BIG";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EINVAL: return "EINVAL";
    default: return strerror(e);
    }
}

/* Raw execve, so that glibc does not look at the arguments first. */
static int try_exec(const char *path, char *const argv[], char *const envp[])
{
    long r = syscall(SYS_execve, path, argv, envp);
    return r == -1 ? errno : 0;
}

static void errors(void)
{
    char *argv[] = {"x", NULL};
    char *envp[] = {NULL};
    struct { const char *what, *path; } cases[] = {
        {"missing file", "/missing"},
        {"file as a directory", "/exectest/x"},
        {"a directory", "/dev"},
        {"no execute permission", "/noexec"},
        {"a text file", "/notelf"},
        {"an x86-64 ELF", "/x86elf"},
        {"a truncated ELF", "/truncated"},
        {"empty path", ""},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        printf("execve(%s): %s\n", cases[i].what, errname(try_exec(cases[i].path, argv, envp)));

    printf("execve(bad path pointer): %s\n", errname(try_exec((char *)8, argv, envp)));
    char **volatile bad_array = (char **)8;
    printf("execve(bad argv pointer): %s\n", errname(try_exec(self, bad_array, envp)));
    char *bad_str[] = {"x", (char *)8, NULL};
    printf("execve(bad string in argv): %s\n", errname(try_exec(self, bad_str, envp)));
    printf("execve(bad envp pointer): %s\n", errname(try_exec(self, argv, bad_array)));

    char *longpath = malloc(5000);
    memset(longpath, 'a', 4999);
    longpath[0] = '/';
    longpath[4999] = 0;
    printf("execve(path of 4999 bytes): %s\n", errname(try_exec(longpath, argv, envp)));

    /* One string longer than MAX_ARG_STRLEN (32 pages). */
    char *huge = malloc(200000);
    memset(huge, 'h', 199999);
    huge[199999] = 0;
    char *one_huge[] = {"x", huge, NULL};
    printf("execve(an argument of 200000 bytes): %s\n", errname(try_exec(self, one_huge, envp)));
    /* Many strings that together pass a quarter of the 8 MiB stack. */
    huge[100000] = 0;
    char *many[40];
    for (int i = 0; i < 39; i++)
        many[i] = huge;
    many[39] = NULL;
    printf("execve(39 arguments of 100000 bytes): %s\n", errname(try_exec(self, many, envp)));
}

/* Child side of args(): check what arrived. */
static int check_args(int argc, char **argv, char **envp)
{
    int bad = 0;
    bad += argc != 504;
    bad += strcmp(argv[2], "") != 0;
    bad += strcmp(argv[3], "two words") != 0;
    bad += strlen(argv[4]) != 100000;
    for (int i = 0; i < 100000 && !bad; i++)
        bad += argv[4][i] != 'x';
    for (int i = 5; i < 504 && !bad; i++) {
        char want[16];
        snprintf(want, sizeof want, "arg%d", i);
        bad += strcmp(argv[i], want) != 0;
    }
    bad += argv[argc] != NULL;
    int envc = 0;
    while (envp[envc])
        envc++;
    bad += envc != 3 || strcmp(envp[0], "A=1") || strcmp(envp[1], "EMPTY=") ||
           strcmp(envp[2], "LAST=z");
    printf("args child: argc=%d, long argument %zu bytes, %d environment strings: %s\n", argc,
           strlen(argv[4]), envc, bad ? "CORRUPT" : "intact");
    return bad;
}

static void args(void)
{
    static char *argv[505];
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = 0;
    argv[0] = (char *)self;
    argv[1] = "check-args";
    argv[2] = "";
    argv[3] = "two words";
    argv[4] = big;
    for (int i = 5; i < 504; i++) {
        argv[i] = malloc(16);
        snprintf(argv[i], 16, "arg%d", i);
    }
    argv[504] = NULL;
    char *envp[] = {"A=1", "EMPTY=", "LAST=z", NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execve(self, argv, envp);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("args: child exited with %d\n", WEXITSTATUS(st));

    pid = fork();
    if (pid == 0) {
        syscall(SYS_execve, self, NULL, NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    printf("execve with argv NULL: the program saw argc %d\n", WEXITSTATUS(st));
}

static void vfork_exec(void)
{
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        char *argv[] = {(char *)self, "sleeper", NULL};
        execve(self, argv, NULL);
        _exit(127);
    }
    /* The child is still running its new program: exec, not exit, woke us. */
    int st;
    pid_t w = waitpid(pid, &st, WNOHANG);
    printf("vfork + execve: parent resumed while the child runs: %s\n", w == 0 ? "yes" : "no");
    waitpid(pid, &st, 0);
    printf("vfork + execve: child exited with %d\n", WEXITSTATUS(st));
}

static void *forever(void *arg)
{
    static int never;
    for (;;)
        syscall(SYS_futex, &never, 0 /* FUTEX_WAIT */, 0, NULL);
    return arg;
}

static void threaded_exec(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&t[i], NULL, forever, NULL);
        char *argv[] = {(char *)self, "exit", "33", NULL};
        execve(self, argv, NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("execve from a process with 4 threads: exited with %d\n", WEXITSTATUS(st));
}

int main(int argc, char **argv, char **envp)
{
    if (argc == 0)
        return 0;
    if (argc == 1 && argv[0][0] == 0)
        return argc; /* started with argv NULL: Linux passes argv[0] = "" */
    if (argc > 1 && strcmp(argv[1], "check-args") == 0)
        return check_args(argc, argv, envp);
    if (argc > 1 && strcmp(argv[1], "sleeper") == 0) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 4;
    }
    if (argc > 2 && strcmp(argv[1], "exit") == 0)
        return atoi(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    errors();
    args();
    vfork_exec();
    threaded_exec();
    printf("exectest: done\n");
    return 0;
}

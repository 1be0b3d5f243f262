#define _GNU_SOURCE
/*
 * execfuzz: execve every file under /fuzz (corrupted copies of a real program that
 * `make initrd` writes), each in a child with a time limit. The kernel must refuse each
 * with an errno or run it; whatever the file does, the kernel lives on, and every child
 * is reaped. Prints what happened to how many files.
 */
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[argc - 1]) : 64;
    int refused[256] = {0}, exited = 0, signaled = 0, timedout = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "/fuzz/%02d", i);
        pid_t pid = fork();
        if (pid == 0) {
            char *av[] = {path, "x", NULL};
            char *ev[] = {"FUZZ=1", NULL};
            execve(path, av, ev);
            _exit(200 + (errno & 0x3f)); /* refused: 200 + errno */
        }
        int status = 0, waited = 0;
        for (int t = 0; t < 200; t++) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                waited = 1;
                break;
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (!waited) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            timedout++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) >= 200) {
            refused[WEXITSTATUS(status) - 200]++;
        } else if (WIFEXITED(status)) {
            exited++;
        } else {
            signaled++;
        }
    }
    /* Whatever the programs left behind (children of their own) is reparented to us. */
    kill(-1, SIGKILL);
    while (wait(NULL) > 0)
        ;
    printf("execfuzz: %d files:", n);
    for (int e = 0; e < 64; e++)
        if (refused[e])
            printf(" %d refused with %s,", refused[e], strerrorname_np(e) ? strerrorname_np(e) : "?");
    printf(" %d ran and exited, %d were killed by a signal, %d ran too long\n", exited, signaled,
           timedout);
    return 0;
}

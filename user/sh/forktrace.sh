# The shell's processes seen from user space: forktrace (user/c/forktrace.c, a ptrace
# tracer) runs busybox commands that fork, each shown after a `/ # ` prompt as it would
# be typed at `make shell`'s. With -n, pids are numbered from 1 and each new process runs
# alone until it exits, so the trace is the same on every run and on Linux 6.1:
# `make test` compares what this prints with user/sh/forktrace.expected, recorded on
# Linux with the same archive (tests/tests/shell.rs says how), and the README quotes it.
run() {
    echo "/ # $1"
    eval "$1"
}
# A pipeline: a fork for each side. ls is one of busybox's applets that the forked shell
# runs without an execve; wc is exec'd (busybox re-runs itself through /proc/self/exe).
run "forktrace -n sh -c 'ls /bin | wc -l'"
# Builtins (echo) need no process; a subshell and a command substitution are forks.
run "forktrace -n sh -c 'echo a; (echo b); echo \$(echo c)'"
# An exit status and a death by signal, as the parent's wait4 gets them.
run "forktrace -n sh -c 'sh -c \"exit 7\"; echo \$?; sh -c \"kill -9 \\\$\\\$\"; echo \$?'"
# busybox's time starts its command with vfork (CLONE_VM|CLONE_VFORK): the parent
# sleeps in the kernel until the child's execve.
run "forktrace -n time -f 'exit status %x' sh -c 'exit 3'"
exit 0

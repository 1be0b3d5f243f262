# pid 1 of the busybox initrd (`make shell`, the shell tests): run by `/bin/sh`, which the
# kernel starts with `init=/bin/sh -- /etc/init.sh [TEST]` (Linux takes the same line).
#
# It mounts /proc (busybox finds itself through /proc/self/exe), installs busybox's applet
# links (`busybox --install -s`: /bin/ls -> /bin/busybox, ...), and then either runs the
# test script /tests/TEST.sh, whose exit status becomes init's (and QEMU's), or starts an
# interactive shell on the console. Exiting that shell powers off with its status.
/bin/busybox mount -t proc proc /proc || exit 90
/bin/busybox --install -s || exit 91
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/ TERM=linux
cd /
if [ -z "$1" ]; then
    echo 'forkos: busybox sh; `exit` powers off'
    # The shell gets the console as its controlling terminal, as a login's shell gets its
    # tty: `setsid -c` makes a new session and takes the terminal (TIOCSCTTY) on stdin.
    # /dev/console never becomes one by itself (Linux opens it O_NOCTTY), and without one
    # ash turns job control off. The shell is init's child, not init: as on Linux, a
    # process group whose only parent outside it is init counts as orphaned, and ^Z
    # would not stop a job of a shell that is init.
    setsid -c sh -l
else
    sh "/tests/$1.sh"
fi
status=$?
# Take the links away again, so that the kernel's check that every page came back when
# init exits sees the file system as the archive left it.
cd /
/bin/busybox --list-full | /bin/busybox grep -v -x -e bin/sh -e bin/busybox |
    /bin/busybox xargs /bin/busybox rm -f
exit $status

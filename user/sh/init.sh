# pid 1 of the busybox initrd (`make shell`, the shell tests): run by `/bin/sh`, which the
# kernel starts with `init=/bin/sh -- /etc/init.sh [TEST]` (Linux takes the same line).
#
# It mounts /proc (busybox finds itself through /proc/self/exe), installs busybox's applet
# links (`busybox --install -s`: /bin/ls -> /bin/busybox, ...), and then either runs the
# test script /tests/TEST.sh, whose exit status becomes init's (and QEMU's), or becomes an
# interactive shell on the console. Exiting that shell powers off with its status.
/bin/busybox mount -t proc proc /proc || exit 90
/bin/busybox --install -s || exit 91
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/ TERM=linux
cd /
if [ -z "$1" ]; then
    echo 'forkos: busybox sh; `exit` powers off'
    exec sh -l
fi
sh "/tests/$1.sh"
status=$?
# Take the links away again, so that the kernel's check that every page came back when
# init exits sees the file system as the archive left it.
cd /
/bin/busybox --list-full | /bin/busybox grep -v -x -e bin/sh -e bin/busybox |
    /bin/busybox xargs /bin/busybox rm -f
exit $status

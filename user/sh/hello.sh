echo hello from busybox sh pid $$
ls /proc
cat /proc/self/stat
cat /proc/self/status
cat /proc/self/maps
cat /proc/1/cmdline | od -c | head -3
cat /proc/meminfo
cat /proc/uptime /proc/loadavg
cat /proc/stat
cat /proc/self/statm
cat /proc/mounts
ls -l /proc/self/ /proc/self/fd
readlink /proc/self/exe /proc/self/cwd /proc/self
ps
free
uptime
ls -l /proc/self/task
sleep 10 &
kill -STOP $!
cat /proc/$!/status | head -3
ps -o pid,ppid,stat,comm,args
kill -9 $!

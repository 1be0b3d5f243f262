# The README's short session: each command is shown after a `/ # ` prompt, as it would
# be typed at `make shell`'s, then run (`make shell TEST=session`; a docs test checks
# that the README quotes what it prints).
run() {
    echo "/ # $1"
    eval "$1"
}
run 'echo hi > /tmp/f; cat /tmp/f; rm /tmp/f'
run 'ls -l /bin | head -4'
run "sh -c 'echo \$\$ \$PPID'; echo \$\$"
run 'printf "a\nb\nc\n" | wc -l'
run 'sleep 100 & sleep 0.5; kill -STOP $!; ps -o pid,ppid,stat,comm,args'
run 'grep -E "^(Name|State|PPid)" /proc/$!/status; kill -9 $!; wait'
run 'cat /proc/$$/maps'
run '(while read -r l; do echo "$l"; done < /proc/self/maps)'

# A few hundred commands (forks, execs, pipes, files, /proc reads); the kernel then
# checks that every page and open file came back when init exits.
i=0
while [ $i -lt 60 ]; do
    echo $i > /tmp/n.$i
    cat /tmp/n.$i | wc -c > /dev/null
    v=$(cat /proc/self/stat | cut -d' ' -f1)
    ls /proc > /dev/null
    rm /tmp/n.$i
    i=$((i + 1))
done
echo "leaks: $i rounds"

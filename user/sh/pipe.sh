# The walkthrough's pipeline (docs/walkthrough.md, "The shell's fork: ls | wc -l"):
# `make shell TRACE=fork TEST=pipe` narrates what `ls | wc -l` forks and execs, and a docs
# test checks that the walkthrough quotes what it prints.
#
# The pipeline runs in an interactive shell (`-i`) with the console as its controlling
# terminal (`setsid -c`), as at `make shell`'s prompt: such a shell keeps the terminal
# open at fd 10 with FD_CLOEXEC for its job control, so the trace shows execve closing it.
cd /bin
setsid -c sh -i -c 'ls | wc -l'

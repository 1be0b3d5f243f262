# GDB setup for `make debug`: QEMU waits on :1234 before the first instruction.
#
# First the forkos commands (scripts/forkos-gdb.py: fk-current, fk-ps, fk-pt-regs,
# fk-cpu-context, fk-break-fork; they need no connection to load), then the connection.
# docs/gdb.md walks through catching a fork with them.
#
# forkos.elf is linked at its virtual address, but the first instructions (boot/head.S,
# up to __primary_switch) run with the MMU off at the physical load address. QEMU loads
# the image 2 MiB into RAM, at 0x40200000, so a breakpoint there stops at _text.
# Breakpoints on the ELF's symbols (`break start_kernel`) work from the start: QEMU keeps
# breakpoints itself, by address, instead of writing into kernel memory.
set pagination off
set confirm off
source scripts/forkos-gdb.py
target remote :1234
thbreak *0x40200000
continue
echo \nStopped at _text, the kernel's first instruction (physical 0x40200000, MMU off).\n
echo Try: `break start_kernel`, `continue`, `bt`, `info registers`.\n
echo Catch the demo's fork: `fk-break-fork 1`, `continue`, `fk-ps`, `fk-pt-regs` (docs/gdb.md).\n

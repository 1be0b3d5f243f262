# GDB setup for `make debug`: QEMU waits on :1234 before the first instruction.
#
# forkos.elf is linked at its virtual address, but the first instructions (boot/head.S,
# up to __primary_switch) run with the MMU off at the physical load address. QEMU loads
# the image 2 MiB into RAM, at 0x40200000, so a hardware breakpoint there stops at _text.
# Once the MMU is on, the ELF's symbols apply directly: `break start_kernel` works.
set pagination off
set confirm off
target remote :1234
hbreak *0x40200000
continue
echo \nStopped at _text, the kernel's first instruction (physical 0x40200000, MMU off).\n
echo Try: `break start_kernel`, `continue`, `bt`, `info registers`.\n

//! Pure logic of the forkos kernel: no hardware access, no `unsafe`, unit-tested on the
//! host with plain `cargo test`.
//!
//! The kernel (`kernel/`) uses these modules for the parts of its work that are just
//! arithmetic on numbers: which page-table slot a virtual address uses, what an exception
//! syndrome means, which physical ranges are free. Keeping them here lets `cargo test` on
//! the host check them in milliseconds, without QEMU.
//!
//! - [`pgtable`]: AArch64 4 KiB-granule page-table geometry and descriptor bits
//!   (Linux `arch/arm64/include/asm/pgtable-hwdef.h`).
//! - [`esr`]: decoding the Exception Syndrome Register (Linux `arch/arm64/include/asm/esr.h`).
//! - [`memblock`]: RAM and reserved ranges, and what is left free (Linux `mm/memblock.c`).
//! - [`cmdline`]: the kernel command line (Linux `lib/cmdline.c`).
//! - [`fdt_irq`]: turning device-tree interrupt specifiers into GIC interrupt ids.
//! - [`uapi`]: Linux's user-space ABI, numbers and struct layouts, shared by the kernel
//!   and user programs (Linux `include/uapi/`).
//! - [`elf`]: checking an ELF program before `execve` loads it (Linux `binfmt_elf.c`).
//! - [`initramfs`]: reading the initrd's cpio archive (Linux `init/initramfs.c`).
//! - [`vma`]: the list of an address space's mappings and what `mmap`, `munmap`,
//!   `mprotect` and `brk` do to it (Linux `mm/mmap.c`, `mm/mprotect.c`).
//! - [`pcp`]: how many pages each CPU's page list keeps, takes and gives back (Linux
//!   `mm/page_alloc.c`'s `zone_batchsize`, `zone_highsize`, `nr_pcp_free`).
//! - [`n_tty`]: the terminal line discipline's editing, echo and signal characters
//!   (Linux `drivers/tty/n_tty.c`).
//! - [`icount_markers`]: the `hint` instructions the instruction-counting QEMU plugin
//!   (`tools/icount-plugin/`) acts on.
#![no_std]
#![forbid(unsafe_code)]

/// The `alloc` feature (the kernel's) brings in what needs a heap: [`vma`].
#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod cmdline;
pub mod elf;
pub mod esr;
pub mod fdt_irq;
pub mod icount_markers;
pub mod initramfs;
pub mod memblock;
pub mod n_tty;
pub mod pcp;
pub mod pgtable;
pub mod uapi;
#[cfg(any(test, feature = "alloc"))]
pub mod vma;

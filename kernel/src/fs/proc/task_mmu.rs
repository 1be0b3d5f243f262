//! `/proc/PID/maps` (Linux `fs/proc/task_mmu.c`): one line per mapping of the address
//! space, as `show_map_vma` writes it. This is where a fork can be watched: right after
//! `fork` the child's lines are the parent's (`dup_mmap` copied every VMA); the pages
//! behind them are shared copy-on-write until one side writes.
//!
//! forkos copies a program's segments into anonymous memory at `execve` instead of
//! mapping the file, so its lines have no path, offset, device or inode where Linux
//! shows the program's file.

use alloc::format;
use alloc::vec::Vec;

use crate::mm::{VmFlags, Vma, VmaBacking};
use crate::task::Task;

/// The column a mapping's name starts after (Linux `seq_setwidth(m, 25 + sizeof(void *)
/// * 6 - 1)` then `seq_pad`).
const NAME_COLUMN: usize = 25 + 8 * 6 - 1;

/// What Linux calls a mapping (Linux `show_map_vma`'s name: `[heap]`, `[stack]`, or
/// the special mapping's name).
fn vma_name(vma: &Vma, start_brk: u64, brk: u64, start_stack: u64) -> Option<&'static str> {
    if let VmaBacking::Special { mapping, .. } = &vma.data {
        return Some(mapping.name);
    }
    if vma.start <= brk && vma.end >= start_brk {
        return Some("[heap]");
    }
    if vma.start <= start_stack && vma.end >= start_stack {
        return Some("[stack]");
    }
    None
}

/// One line (Linux `show_map_vma`: `show_vma_header_prefix`, then the name padded).
fn show_map_vma(out: &mut Vec<u8>, vma: &Vma, name: Option<&str>) {
    let f = vma.flags;
    let line = format!(
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        vma.start,
        vma.end,
        if f.contains(VmFlags::READ) { 'r' } else { '-' },
        if f.contains(VmFlags::WRITE) { 'w' } else { '-' },
        if f.contains(VmFlags::EXEC) { 'x' } else { '-' },
        if f.contains(VmFlags::SHARED) {
            's'
        } else {
            'p'
        },
        0,
        0,
        0,
        0
    );
    out.extend_from_slice(line.as_bytes());
    if let Some(name) = name {
        // Linux `seq_pad(m, ' ')`: spaces to the column, then one more.
        for _ in line.len()..NAME_COLUMN {
            out.push(b' ');
        }
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
}

/// `/proc/PID/maps` (Linux `show_map` for each VMA, `m_start`/`m_next`): empty for a
/// task without an address space.
pub fn show_maps(t: &Task) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(mm) = t.get_task_mm() else {
        return out;
    };
    let m = mm.lock();
    for vma in m.vmas.iter() {
        let name = vma_name(vma, m.start_brk, m.brk, m.start_stack);
        show_map_vma(&mut out, vma, name);
    }
    out
}

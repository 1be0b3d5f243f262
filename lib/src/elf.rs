//! Checking an ELF program before loading it (Linux `fs/binfmt_elf.c`, the checks of
//! `load_elf_binary`), with the maintained `elf` crate doing the parsing.
//!
//! [`check`] decides whether a file can be run and where its segments go; the kernel then
//! maps [`load_segments`] one by one. Nothing here can panic on any input: the host
//! tests feed it random and corrupted files.

use elf::abi::{EM_AARCH64, ET_DYN, ET_EXEC, PF_W, PF_X, PT_INTERP, PT_LOAD};
use elf::endian::LittleEndian;
use elf::ElfBytes;

/// Why a file cannot be run; the kernel turns each into Linux's errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF file, not 64-bit little-endian AArch64, not `ET_EXEC`/`ET_DYN`, or a
    /// program header table that does not parse (`ENOEXEC`).
    NotExecutable,
    /// Dynamically linked: `PT_INTERP` names the interpreter at these bytes of the file.
    Interpreter { offset: usize, len: usize },
    /// A segment reaches outside user space, or its sizes contradict (`EINVAL`).
    BadSegment,
    /// Segment data beyond the end of the file, a segment both writable and executable,
    /// or no `PT_LOAD` at all (`ENOEXEC`; Linux would map these and fault later).
    Refused,
}

/// One `PT_LOAD` segment, placed (the load bias added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    /// The bytes `[file_offset, file_offset + filesz)` of the file go at `vaddr`.
    pub file_offset: usize,
    pub filesz: usize,
    pub writable: bool,
    pub executable: bool,
}

/// What loading needs to know about a checked program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// Added to every address (0 for `ET_EXEC`; `ELF_ET_DYN_BASE`, aligned, for
    /// static-pie).
    pub bias: u64,
    pub entry: u64,
    /// Where the program headers are once loaded (`AT_PHDR`), or 0.
    pub phdr: u64,
    pub phnum: u64,
    /// The end of the highest segment, page aligned: where the heap starts.
    pub brk: u64,
}

fn parse(image: &[u8]) -> Result<ElfBytes<'_, LittleEndian>, ElfError> {
    if !image.starts_with(b"\x7fELF") {
        return Err(ElfError::NotExecutable);
    }
    let file =
        ElfBytes::<LittleEndian>::minimal_parse(image).map_err(|_| ElfError::NotExecutable)?;
    let h = &file.ehdr;
    if !matches!(h.e_type, ET_EXEC | ET_DYN)
        || h.e_machine != EM_AARCH64
        || h.class != elf::file::Class::ELF64
    {
        return Err(ElfError::NotExecutable);
    }
    Ok(file)
}

/// Place one program header, or say why it cannot be.
fn place(
    ph: &elf::segment::ProgramHeader,
    bias: u64,
    image_len: usize,
    task_size: u64,
    page: u64,
) -> Result<Segment, ElfError> {
    let vaddr = ph.p_vaddr.checked_add(bias).ok_or(ElfError::BadSegment)?;
    let end = vaddr.checked_add(ph.p_memsz).ok_or(ElfError::BadSegment)?;
    if ph.p_filesz > ph.p_memsz || end > task_size || vaddr < page {
        return Err(ElfError::BadSegment);
    }
    let file_end = ph
        .p_offset
        .checked_add(ph.p_filesz)
        .ok_or(ElfError::Refused)?;
    if file_end > image_len as u64 {
        return Err(ElfError::Refused);
    }
    let (writable, executable) = (ph.p_flags & PF_W != 0, ph.p_flags & PF_X != 0);
    if writable && executable {
        return Err(ElfError::Refused);
    }
    Ok(Segment {
        vaddr,
        memsz: ph.p_memsz,
        file_offset: ph.p_offset as usize,
        filesz: ph.p_filesz as usize,
        writable,
        executable,
    })
}

/// Check `image` as Linux's `load_elf_binary` would before mapping anything, for a user
/// space of `task_size` bytes, pages of `page` bytes, and static-pie programs placed at
/// `dyn_base`.
pub fn check(image: &[u8], task_size: u64, page: u64, dyn_base: u64) -> Result<ElfInfo, ElfError> {
    let file = parse(image)?;
    let h = file.ehdr;
    let segments = file.segments().ok_or(ElfError::NotExecutable)?;
    if let Some(interp) = segments.iter().find(|p| p.p_type == PT_INTERP) {
        let offset = usize::try_from(interp.p_offset).map_err(|_| ElfError::Refused)?;
        let len = usize::try_from(interp.p_filesz).map_err(|_| ElfError::Refused)?;
        if offset.checked_add(len).is_none_or(|e| e > image.len()) {
            return Err(ElfError::Refused);
        }
        return Err(ElfError::Interpreter { offset, len });
    }
    // A static-pie program is linked at 0 and placed at `dyn_base`, aligned as its most
    // aligned segment wants (Linux's `load_bias`).
    let bias = if h.e_type == ET_DYN {
        let align = segments
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| p.p_align.max(page))
            .max()
            .unwrap_or(page);
        if !align.is_power_of_two() {
            return Err(ElfError::BadSegment);
        }
        dyn_base & !(align - 1)
    } else {
        0
    };
    let (mut phdr, mut brk) = (0, 0);
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        let s = place(&ph, bias, image.len(), task_size, page)?;
        let file_end = (s.file_offset + s.filesz) as u64;
        if ph.p_offset <= h.e_phoff && h.e_phoff < file_end {
            phdr = s.vaddr + (h.e_phoff - ph.p_offset);
        }
        brk = brk.max((s.vaddr + s.memsz).div_ceil(page) * page);
    }
    if brk == 0 {
        return Err(ElfError::Refused);
    }
    Ok(ElfInfo {
        bias,
        entry: h.e_entry.wrapping_add(bias),
        phdr,
        phnum: h.e_phnum as u64,
        brk,
    })
}

/// The `PT_LOAD` segments of a program [`check`] accepted with `info`, in file order.
pub fn load_segments<'a>(
    image: &'a [u8],
    info: &ElfInfo,
    task_size: u64,
    page: u64,
) -> impl Iterator<Item = Segment> + 'a {
    let bias = info.bias;
    parse(image)
        .ok()
        .and_then(|f| f.segments())
        .into_iter()
        .flat_map(|s| s.into_iter())
        .filter(|p| p.p_type == PT_LOAD)
        .filter_map(move |p| place(&p, bias, image.len(), task_size, page).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const TASK: u64 = 1 << 48;
    const PAGE: u64 = 4096;
    const DYN: u64 = 2 * TASK / 3;

    /// A small valid static AArch64 executable: a header, two program headers (text at
    /// 0x400000, data+bss at 0x410000) and some bytes.
    fn tiny(e_type: u16) -> Vec<u8> {
        let mut f = std::vec![0u8; 0x2000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1; // version
        let put16 =
            |f: &mut Vec<u8>, o: usize, v: u16| f[o..o + 2].copy_from_slice(&v.to_le_bytes());
        let put32 =
            |f: &mut Vec<u8>, o: usize, v: u32| f[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put64 =
            |f: &mut Vec<u8>, o: usize, v: u64| f[o..o + 8].copy_from_slice(&v.to_le_bytes());
        put16(&mut f, 16, e_type);
        put16(&mut f, 18, EM_AARCH64);
        put32(&mut f, 20, 1);
        put64(&mut f, 24, 0x400080); // entry
        put64(&mut f, 32, 64); // phoff
        put16(&mut f, 52, 64); // ehsize
        put16(&mut f, 54, 56); // phentsize
        put16(&mut f, 56, 2); // phnum
        let ph = |f: &mut Vec<u8>, i: usize, flags: u32, off: u64, va: u64, fsz: u64, msz: u64| {
            let o = 64 + i * 56;
            put32(f, o, PT_LOAD);
            put32(f, o + 4, flags);
            put64(f, o + 8, off);
            put64(f, o + 16, va);
            put64(f, o + 24, va);
            put64(f, o + 32, fsz);
            put64(f, o + 40, msz);
            put64(f, o + 48, 0x10000);
        };
        ph(&mut f, 0, 5, 0, 0x400000, 0x1000, 0x1000);
        ph(&mut f, 1, 6, 0x1000, 0x410000, 0x1000, 0x3000);
        f
    }

    #[test]
    fn accepts_a_static_executable() {
        let f = tiny(ET_EXEC);
        let info = check(&f, TASK, PAGE, DYN).unwrap();
        assert_eq!(info.entry, 0x400080);
        assert_eq!(info.phdr, 0x400040);
        assert_eq!(info.brk, 0x413000);
        let segs: Vec<Segment> = load_segments(&f, &info, TASK, PAGE).collect();
        assert_eq!(segs.len(), 2);
        assert!(segs[0].executable && !segs[0].writable);
        assert_eq!(segs[1].memsz, 0x3000);
    }

    #[test]
    fn places_static_pie_at_the_dyn_base() {
        let info = check(&tiny(ET_DYN), TASK, PAGE, DYN).unwrap();
        assert_eq!(info.bias, DYN & !0xffff);
        assert_eq!(info.entry, info.bias + 0x400080);
    }

    #[test]
    fn refuses_what_linux_refuses() {
        let mut f = tiny(ET_EXEC);
        f[18] = 62; // x86-64
        assert_eq!(check(&f, TASK, PAGE, DYN), Err(ElfError::NotExecutable));
        assert_eq!(
            check(b"#!/bin/sh\n", TASK, PAGE, DYN),
            Err(ElfError::NotExecutable)
        );
        assert_eq!(
            check(&tiny(ET_EXEC)[..100], TASK, PAGE, DYN),
            Err(ElfError::NotExecutable)
        );
        let mut wx = tiny(ET_EXEC);
        wx[64 + 4] = 7; // text RWX
        assert_eq!(check(&wx, TASK, PAGE, DYN), Err(ElfError::Refused));
        let mut high = tiny(ET_EXEC);
        high[64 + 56 + 16..64 + 56 + 24].copy_from_slice(&(TASK - 0x1000).to_le_bytes());
        assert_eq!(check(&high, TASK, PAGE, DYN), Err(ElfError::BadSegment));
    }

    /// Every accepted program's segments lie in user space and in the file, and none is
    /// writable and executable.
    fn invariants(image: &[u8]) {
        if let Ok(info) = check(image, TASK, PAGE, DYN) {
            for s in load_segments(image, &info, TASK, PAGE) {
                assert!(s.vaddr >= PAGE && s.vaddr + s.memsz <= TASK);
                assert!(s.file_offset + s.filesz <= image.len());
                assert!(s.filesz as u64 <= s.memsz);
                assert!(!(s.writable && s.executable));
            }
            assert!(info.brk <= TASK);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            invariants(&bytes);
        }

        #[test]
        fn corrupted_executables_never_panic(
            flips in proptest::collection::vec((0usize..0x200, any::<u8>()), 1..8),
            cut in 0usize..0x2001,
            pie in any::<bool>(),
        ) {
            let mut f = tiny(if pie { ET_DYN } else { ET_EXEC });
            for (at, b) in flips {
                f[at] = b;
            }
            f.truncate(cut);
            invariants(&f);
        }
    }
}

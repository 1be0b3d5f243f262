//! Reading the initrd's `newc` cpio archive (Linux `init/initramfs.c`), with the
//! maintained `cpio_reader` crate doing the parsing. Nothing here can panic on any
//! input: the host tests feed it random and corrupted archives.

/// `(name, mode, contents)` of every member, in archive order, up to the first one that
/// does not parse (Linux stops unpacking there too, with "broken padding" or the like).
pub fn members(data: &[u8]) -> impl Iterator<Item = (&str, u32, &[u8])> {
    cpio_reader::iter_files(data).map(|e| (e.name(), e.mode().bits(), e.file()))
}

/// One member of the archive with what a file system keeps of it.
pub struct Member<'a> {
    pub name: &'a str,
    /// The archive's inode number: members sharing one are hard links of one file,
    /// whose data comes with the last of them (as `cpio -H newc` writes them).
    pub ino: u32,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    /// A device file's number, `(major, minor)`.
    pub rdev: (u32, u32),
    pub data: &'a [u8],
}

/// Every member with its inode number, mode, owner and device (Linux `do_name` /
/// `do_copy` read the same header fields).
pub fn entries(data: &[u8]) -> impl Iterator<Item = Member<'_>> {
    cpio_reader::iter_files(data).map(|e| Member {
        name: e.name(),
        ino: e.ino(),
        mode: e.mode().bits(),
        nlink: e.nlink(),
        uid: e.uid(),
        gid: e.gid(),
        mtime: e.mtime(),
        rdev: (e.rdevmajor().unwrap_or(0), e.rdevminor().unwrap_or(0)),
        data: e.file(),
    })
}

/// The components of a member's path, `./bin/sh`, `/bin/sh` and `bin/sh` alike; `None`
/// for the archive's own `.` or a name that climbs out with `..`.
pub fn path_components(name: &str) -> Option<impl Iterator<Item = &str> + Clone> {
    let parts = name.split('/').filter(|p| !p.is_empty() && *p != ".");
    if parts.clone().next().is_none() || parts.clone().any(|p| p == "..") {
        return None;
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    /// One newc member (as `scripts/mkcpio` writes it).
    fn member(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(std::format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn archive() -> Vec<u8> {
        let mut a = Vec::new();
        member(&mut a, ".", 0o040755, b"");
        member(&mut a, "./init", 0o100755, b"\x7fELF...");
        member(&mut a, "bin/sh", 0o100644, b"hello");
        member(&mut a, "TRAILER!!!", 0, b"");
        a
    }

    #[test]
    fn reads_members_and_names() {
        let a = archive();
        let m: Vec<(String, u32, Vec<u8>)> = members(&a)
            .map(|(n, mode, d)| (String::from(n), mode, d.to_vec()))
            .collect();
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(
            m[1],
            (String::from("./init"), 0o100755, b"\x7fELF...".to_vec())
        );
        let join = |n| path_components(n).map(|p| p.collect::<Vec<_>>().join("/"));
        assert_eq!(join("./init").as_deref(), Some("init"));
        assert_eq!(join("/bin//sh").as_deref(), Some("bin/sh"));
        assert_eq!(join("."), None);
        assert_eq!(join("a/../../etc"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for (name, _, data) in members(&bytes) {
                let _ = path_components(name).map(|p| p.count());
                prop_assert!(data.len() <= bytes.len());
            }
        }

        #[test]
        fn corrupted_archives_never_panic(
            flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..8),
            cut in 0usize..400,
        ) {
            let mut a = archive();
            for (at, b) in flips {
                if at < a.len() {
                    a[at] = b;
                }
            }
            a.truncate(cut.min(a.len()));
            for (name, _, data) in members(&a) {
                let _ = path_components(name).map(|p| p.count());
                prop_assert!(data.len() <= a.len());
            }
        }
    }
}

//! Memory: the page allocator's count, the heap, and the kernel map's permissions.

use forkos_tests::Boot;

fn passes(name: &str, mem: &str) -> String {
    let run = Boot {
        mem: mem.into(),
        ..Boot::selftest(name)
    }
    .run();
    run.expect_status(0).expect("selftest: all passed");
    assert!(!run.output.contains("[FAIL]"), "{}", run.output);
    run.output
}

#[test]
fn page_alloc_returns_to_starting_count() {
    let out = passes("page_alloc", "256M");
    assert!(out.contains("[ok] free count back to"), "{out}");
}

#[test]
fn page_alloc_counts_ram_minus_reservations() {
    // Managed pages are RAM minus the image, the device tree and firmware reservations:
    // at most 256 MiB, and all but a few hundred pages of it.
    let run = Boot::selftest("all").run();
    let line = run.line_value("pages:").expect("a pages line");
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (free, managed, image_kib) = (nums[0], nums[1], nums[2]);
    let image_pages = image_kib / 4;
    // Besides the image: the device tree (QEMU gives 1 MiB), the per-page records (16
    // bytes a page: 256 pages for 256 MiB) and the pages QEMU's loader keeps below the
    // image are not managed; nothing else is missing.
    assert!(managed + image_pages <= 65536, "{line}");
    // Today 512 pages (256 device tree, 256 records); 600 leaves 88 for the loader's.
    assert!(managed + image_pages > 65536 - 600, "{line}");
    assert!(free <= managed, "{line}");
}

#[test]
fn heap_grows_on_demand() {
    passes("heap", "256M");
}

#[test]
fn no_writable_executable_kernel_pages() {
    let out = passes("wx", "256M");
    assert!(
        out.contains("[ok] 0 of them are writable and executable"),
        "{out}"
    );
    assert!(out.contains("guard page"), "{out}");
}

#[test]
fn page_alloc_with_1g() {
    passes("page_alloc", "1G");
}

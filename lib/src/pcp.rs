//! The arithmetic of the per-CPU page lists (Linux `mm/page_alloc.c`'s `struct
//! per_cpu_pages`): how many pages a CPU keeps for itself, how many it takes from the
//! zone at once and how many it gives back. The lists themselves are in the kernel's
//! `mm/page_alloc.rs`; what is plain arithmetic on counts is here, tested on the host.

/// A CPU's list before the allocator is set up (Linux `BOOT_PAGESET_HIGH`,
/// `BOOT_PAGESET_BATCH`): no page stays on it, each goes straight back to the zone.
pub const BOOT_PAGESET: PcpCounts = PcpCounts {
    count: 0,
    high: 0,
    batch: 1,
};

/// The counts of one CPU's list (the numbers of Linux `struct per_cpu_pages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpCounts {
    /// Pages on the list.
    pub count: usize,
    /// Above this many, the list gives pages back to the zone.
    pub high: usize,
    /// Pages taken from or given to the zone at once.
    pub batch: usize,
}

impl PcpCounts {
    /// Must a list that just got a page give some back (Linux
    /// `free_unref_page_commit`'s `pcp->count >= high`)?
    pub fn over_high(&self) -> bool {
        self.count >= self.high
    }

    /// How many pages to give back once over `high` (Linux `nr_pcp_free`, without its
    /// `free_factor` doubling): a batch, but not so many that fewer than a batch stay
    /// below `high`, at least one, and one at a time while the list is the boot one
    /// (`high < batch`).
    pub fn nr_pcp_free(&self) -> usize {
        if self.high < self.batch {
            return self.count.min(1);
        }
        let to_free = self.batch.min(self.high - self.batch).max(1);
        to_free.min(self.count)
    }
}

/// Pages a CPU takes from the zone at once (Linux `zone_batchsize`): a quarter of a
/// 1024th of the zone, at most 1 MiB's worth before the quarter, rounded to one less
/// than a power of two (Linux's defence against cache-colour aliasing), and at least one
/// (Linux `zone_set_pageset_high_and_batch`'s `max(1, zone_batchsize(zone))`).
pub fn zone_batchsize(managed_pages: usize, page_size: usize) -> usize {
    let mut batch = (managed_pages >> 10).min((1 << 20) / page_size);
    batch /= 4;
    if batch < 1 {
        batch = 1;
    }
    (rounddown_pow_of_two(batch + batch / 2) - 1).max(1)
}

/// The share of the zone the CPUs' lists may hold together (Linux's
/// `vm.percpu_pagelist_high_fraction` sysctl, at its smallest allowed value, which gives
/// the longest lists): forkos drains the lists before any allocation fails for want of
/// pages, so long lists cost no usable memory, and they keep a fork's pages away from the
/// zone's lock.
pub const PERCPU_PAGELIST_HIGH_FRACTION: usize = 8;

/// The most pages a CPU keeps (Linux `zone_highsize` with
/// `percpu_pagelist_high_fraction` set): the zone's share for the lists, divided among
/// the CPUs, and at least four batches.
pub fn zone_highsize(managed_pages: usize, batch: usize, nr_cpus: usize) -> usize {
    (managed_pages / PERCPU_PAGELIST_HIGH_FRACTION / nr_cpus.max(1)).max(batch << 2)
}

/// The largest power of two not above `n` (Linux `rounddown_pow_of_two`); `n` > 0.
fn rounddown_pow_of_two(n: usize) -> usize {
    1 << (usize::BITS - 1 - n.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_linux_for_common_sizes() {
        // 256 MiB of 4 KiB pages: 64 >> 2 = 16 -> rounddown(24) - 1 = 15.
        assert_eq!(zone_batchsize(65536 - 512, 4096), 15);
        assert_eq!(zone_batchsize(65536, 4096), 15);
        // 1 GiB: 256 >> 2 = 64 -> rounddown(96) - 1 = 63, Linux's familiar figure.
        assert_eq!(zone_batchsize(262144, 4096), 63);
        // Capped at 1 MiB's worth whatever the size.
        assert_eq!(zone_batchsize(1 << 30, 4096), 63);
        // Tiny zones still move one page at a time.
        assert_eq!(zone_batchsize(100, 4096), 1);
    }

    #[test]
    fn high_is_a_share_of_the_zone_and_at_least_four_batches() {
        // 256 MiB on one CPU: an eighth of it; shared among four CPUs, a quarter each.
        assert_eq!(zone_highsize(65536, 15, 1), 8192);
        assert_eq!(zone_highsize(65536, 15, 4), 2048);
        assert_eq!(zone_highsize(800, 63, 1), 252);
        assert_eq!(zone_highsize(65536, 15, 0), 8192);
    }

    #[test]
    fn boot_pageset_keeps_nothing() {
        let mut p = BOOT_PAGESET;
        p.count = 1;
        assert!(p.over_high());
        assert_eq!(p.nr_pcp_free(), 1);
    }

    #[test]
    fn over_high_gives_back_a_batch_and_keeps_a_batch() {
        let p = PcpCounts {
            count: 60,
            high: 60,
            batch: 15,
        };
        assert!(p.over_high());
        assert_eq!(p.nr_pcp_free(), 15);
        assert!(p.count - p.nr_pcp_free() >= p.batch);
        let below = PcpCounts { count: 59, ..p };
        assert!(!below.over_high());
    }

    #[test]
    fn never_frees_more_than_the_list_holds() {
        for high in 0..40 {
            for batch in 1..20 {
                for count in 0..50 {
                    let p = PcpCounts { count, high, batch };
                    let n = p.nr_pcp_free();
                    assert!(n <= count, "{p:?} frees {n}");
                    if p.over_high() && count > 0 {
                        assert!(n >= 1, "{p:?} frees nothing");
                    }
                }
            }
        }
    }
}

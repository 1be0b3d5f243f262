//! Device-tree interrupt specifiers for the Arm GIC
//! (Linux `Documentation/devicetree/bindings/interrupt-controller/arm,gic.yaml`).
//!
//! A GIC specifier is three cells: the type (0 = SPI, 1 = PPI), the number within that
//! type, and trigger flags. The GIC's own interrupt id (INTID) adds 32 to an SPI number and
//! 16 to a PPI number.

/// GIC interrupt type cell: shared peripheral interrupt.
pub const GIC_SPI: u32 = 0;
/// GIC interrupt type cell: private (per-CPU) peripheral interrupt.
pub const GIC_PPI: u32 = 1;

/// The INTID for one three-cell GIC specifier, or `None` for an unknown type.
pub fn gic_intid(kind: u32, number: u32) -> Option<u32> {
    match kind {
        GIC_SPI => Some(32 + number),
        GIC_PPI => Some(16 + number),
        _ => None,
    }
}

/// The `index`-th INTID in a raw big-endian `interrupts` property of three-cell specifiers.
pub fn nth_intid(prop: &[u8], index: usize) -> Option<u32> {
    let cell = |i: usize| -> Option<u32> {
        let b = prop.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    gic_intid(cell(index * 3)?, cell(index * 3 + 1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armv8_timer_on_qemu_virt() {
        // QEMU virt: <PPI 13>, <PPI 14>, <PPI 11>, <PPI 10> (secure, non-secure, virtual, hyp).
        let cells: [u32; 12] = [1, 13, 0x104, 1, 14, 0x104, 1, 11, 0x104, 1, 10, 0x104];
        let mut prop = std::vec::Vec::new();
        for c in cells {
            prop.extend_from_slice(&c.to_be_bytes());
        }
        assert_eq!(nth_intid(&prop, 0), Some(29));
        assert_eq!(nth_intid(&prop, 2), Some(27));
        assert_eq!(nth_intid(&prop, 4), None);
        assert_eq!(nth_intid(&prop[..16], 1), None);
    }

    #[test]
    fn spi_and_unknown() {
        assert_eq!(gic_intid(GIC_SPI, 1), Some(33));
        assert_eq!(gic_intid(7, 1), None);
    }
}

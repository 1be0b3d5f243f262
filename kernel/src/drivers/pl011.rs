//! The Arm PrimeCell PL011 UART, QEMU virt's console (Linux
//! `drivers/tty/serial/amba-pl011.c`).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! {u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Busy sending.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    LCR_H [
        /// Word length: 8 bits.
        WLEN OFFSET(5) NUMBITS(2) [EightBit = 0b11],
        /// FIFOs on.
        FEN OFFSET(4) NUMBITS(1) [],
        /// Send a break: hold the line low.
        BRK OFFSET(0) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt mask set/clear, raw and masked status, clear: the same bits.
    INT [
        /// Receive timeout: bytes wait in the FIFO and no more came for 32 bit times.
        RT OFFSET(6) NUMBITS(1) [],
        /// Receive: the FIFO reached its trigger level.
        RX OFFSET(4) NUMBITS(1) []
    ]
}

/// A received byte's flags in the data register: a break was received (Linux
/// `UART011_DR_BE`).
const DR_BE: u32 = 1 << 10;

register_structs! {
    Pl011Regs {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: ReadWrite<u32>),
        (0x28 => fbrd: ReadWrite<u32>),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => imsc: ReadWrite<u32, INT::Register>),
        (0x3c => _reserved3),
        (0x40 => mis: ReadOnly<u32, INT::Register>),
        (0x44 => icr: WriteOnly<u32, INT::Register>),
        (0x48 => @END),
    }
}

/// One PL011 mapped into kernel virtual memory.
pub struct Pl011 {
    regs: &'static Pl011Regs,
}

// SAFETY: the registers are MMIO reached only through volatile accesses; the console
// keeps the one Pl011 behind a lock, so moving it between CPUs is fine.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// Take over the UART whose registers are mapped at `base`.
    ///
    /// # Safety
    /// `base` must map a PL011's registers as device memory for the life of the kernel,
    /// and nothing else may drive it.
    pub unsafe fn new(base: u64) -> Self {
        // SAFETY: the caller guarantees base maps this device's registers.
        let regs = unsafe { &*(base as *const Pl011Regs) };
        Pl011 { regs }
    }

    /// 115200 8N1 with FIFOs, for a 24 MHz UART clock (QEMU's `apb-pclk`).
    pub fn init(&self) {
        while self.regs.fr.is_set(FR::BUSY) {}
        self.regs.cr.set(0);
        self.regs.imsc.set(0);
        self.regs.icr.set(0x7ff);
        self.regs.ibrd.set(13);
        self.regs.fbrd.set(1);
        self.regs
            .lcr_h
            .write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        self.regs
            .cr
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Interrupt when bytes arrive: at the FIFO's trigger level, or when the line has
    /// been quiet with bytes waiting (Linux `pl011_startup`'s `UART011_RTIM |
    /// UART011_RXIM`).
    pub fn enable_rx_interrupts(&self) {
        self.regs.icr.write(INT::RX::SET + INT::RT::SET);
        self.regs.imsc.write(INT::RX::SET + INT::RT::SET);
    }

    /// A received byte and whether a break came with it, if one is waiting (Linux
    /// `pl011_fifo_to_tty`'s read of `UART01x_DR`).
    pub fn getc(&self) -> Option<(u8, bool)> {
        if self.regs.fr.is_set(FR::RXFE) {
            None
        } else {
            let dr = self.regs.dr.get();
            Some((dr as u8, dr & DR_BE != 0))
        }
    }

    /// Start or stop sending a break (Linux `pl011_break_ctl`).
    pub fn break_ctl(&self, on: bool) {
        use tock_registers::interfaces::ReadWriteable;
        if on {
            self.regs.lcr_h.modify(LCR_H::BRK::SET);
        } else {
            self.regs.lcr_h.modify(LCR_H::BRK::CLEAR);
        }
    }

    /// Acknowledge the receive interrupts (Linux `pl011_int` writes `UART011_ICR`):
    /// reading the FIFO empty clears them too; this covers a timeout with nothing left.
    pub fn clear_rx_interrupts(&self) {
        if self.regs.mis.is_set(INT::RX) || self.regs.mis.is_set(INT::RT) {
            self.regs.icr.write(INT::RX::SET + INT::RT::SET);
        }
    }

    /// Send one byte, waiting for room in the FIFO.
    pub fn putc(&self, c: u8) {
        while self.regs.fr.is_set(FR::TXFF) {}
        self.regs.dr.set(c as u32);
    }
}

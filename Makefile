# forkos — build, boot and test a teaching kernel on QEMU virt.
#
#   make            build build/forkos.img (raw arm64 Image, boot this) and build/forkos.elf (for GDB)
#   make run        build and boot the fork demo in QEMU (TRACE=fork narrates it); QEMU's exit status is init's
#   make test       host unit tests + every QEMU integration test (T=name runs the matching ones)
#   make lint       cargo fmt --check and cargo clippy -D warnings, kernel and host crates
#   make debug      boot under QEMU's GDB stub, stopped at the first instruction, with gdb-multiarch
#
# Every target installs what is missing: the pinned Rust toolchain (rust-toolchain.toml)
# through rustup, and QEMU / gdb-multiarch through apt-get when run as root on Debian.

TARGET     := aarch64-unknown-none-softfloat
KERNEL_ELF := target/$(TARGET)/release/forkos
IMG        := build/forkos.img
ELF        := build/forkos.elf
QEMU       := qemu-system-aarch64
MACHINE    ?= virt
CPU        ?= cortex-a72
MEM        ?= 256M
APPEND     ?=
TRACE      ?=
CMDLINE    := $(strip $(if $(TRACE),trace=$(TRACE)) $(APPEND))
QEMU_ARGS  := -M $(MACHINE) -cpu $(CPU) -m $(MEM) -nographic -nic none -semihosting \
              -kernel $(IMG) $(if $(INITRD),-initrd $(INITRD)) $(if $(CMDLINE),-append "$(CMDLINE)")
CARGO      := cargo
KERNEL_CARGO_FLAGS := -p forkos-kernel --target $(TARGET) --release
USER_CARGO_FLAGS   := -p forkos-user --target aarch64-unknown-none --release

.PHONY: all run test lint debug clean toolchain qemu gdb user FORCE

all: $(IMG)

toolchain:
	@scripts/need toolchain

qemu:
	@scripts/need qemu

gdb:
	@scripts/need gdb

# The kernel embeds the user programs, so they are built first.
user: toolchain
	$(CARGO) build $(USER_CARGO_FLAGS)

$(KERNEL_ELF): FORCE user | toolchain
	$(CARGO) build $(KERNEL_CARGO_FLAGS)

$(ELF): $(KERNEL_ELF)
	@mkdir -p build
	cp $(KERNEL_ELF) $(ELF)

$(IMG): $(ELF)
	"$$(scripts/need objcopy)" -O binary $(ELF) $(IMG)

run: $(IMG) qemu
	$(QEMU) $(QEMU_ARGS)

test: $(IMG) qemu
	$(CARGO) test --no-fail-fast -p forkos-lib -p forkos-tests -- $(T)

lint: user
	$(CARGO) fmt --all --check
	$(CARGO) clippy -p forkos-lib -p forkos-tests --all-targets -- -D warnings
	$(CARGO) clippy $(USER_CARGO_FLAGS) -- -D warnings
	$(CARGO) clippy $(KERNEL_CARGO_FLAGS) -- -D warnings

debug: $(IMG) qemu gdb
	$(QEMU) $(QEMU_ARGS) -s -S & \
	gdb-multiarch -q -x scripts/forkos.gdb $(ELF); \
	kill %1 2>/dev/null || true

clean:
	$(CARGO) clean
	rm -rf build

FORCE:

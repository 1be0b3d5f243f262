# forkos — build, boot and test a teaching kernel on QEMU virt.
#
#   make            build build/forkos.img (raw arm64 Image, boot this) and build/forkos.elf (for GDB)
#   make run        build and boot the fork demo in QEMU (TRACE=fork narrates it); QEMU's exit status is init's;
#                   SMP=N boots N CPUs (default 4; tasks run on all of them)
#   make test       host unit tests + every QEMU integration test (T=name runs the matching ones)
#   make lint       cargo fmt --check and cargo clippy -D warnings, kernel and host crates
#   make debug      boot under QEMU's GDB stub, stopped at the first instruction, with gdb-multiarch
#                   and forkos's commands (fk-ps, fk-pt-regs, ...: scripts/forkos-gdb.py, docs/gdb.md)
#   make bench      the fork-path benchmarks under deterministic instruction counting (and Linux's
#                   with LINUX_IMAGE set), then the SMP figures; see scripts/bench, scripts/smpbench
#   make smpbench   only the SMP figures of fork+exit+wait, counted per CPU by the QEMU plugin
#                   tools/icount-plugin (SMP="1 4" runs K=1 and K=4 and prints the speed-up bound;
#                   without SMP on the command line, K=1)
#   make fuzz       run the syscall fuzzer for long (FUZZ_SEED=, FUZZ_CALLS=); `make test` runs it briefly
#   make shell      boot Debian's unmodified busybox (fetched once into build/busybox/) to an
#                   interactive `sh` on the console (TRACE=fork narrates its forks); `exit` powers off;
#                   TEST=NAME runs the script user/sh/NAME.sh instead, its status QEMU's
#   make initrd     build the C programs (user/c) and build/initrd.cpio holding them and utest;
#                   boot it with `make run INITRD=build/initrd.cpio` (its /init is cdemo)
#   make exercise E=NAME  take exercise NAME's reference code out of the kernel (docs/exercises.md);
#                   `make test T=exercise_NAME` checks your version; `git checkout -- kernel` restores
#                   the reference code, and `make` rebuilds the kernel with it
#
# Every target installs what is missing: the pinned Rust toolchain (rust-toolchain.toml)
# through rustup, and QEMU / gdb-multiarch / the AArch64 C cross compiler through apt-get
# when run as root on Debian.

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
SMP        ?= 4
QEMU_ARGS  := -M $(MACHINE) -cpu $(CPU) -smp $(SMP) -m $(MEM) -nographic -nic none -semihosting \
              -kernel $(IMG) $(if $(INITRD),-initrd $(INITRD)) $(if $(CMDLINE),-append "$(CMDLINE)")
CARGO      := cargo
KERNEL_CARGO_FLAGS := -p forkos-kernel --target $(TARGET) --release
USER_CARGO_FLAGS   := -p forkos-user --target aarch64-unknown-none --release

CROSS_CC   := aarch64-linux-gnu-gcc
C_FLAGS    := -O2 -Wall -Werror
C_PROGS    := build/c/cdemo build/c/cdemo-pie build/c/exectest build/c/startup build/c/execfuzz \
              build/c/forktrace
FUZZ_FILES := 64
UTEST      := target/aarch64-unknown-none/release/utest
INITRD_CPIO := build/initrd.cpio

# Debian's busybox-static (arm64), its applet links made at boot, and the shell scripts.
BUSYBOX_CPIO := build/busybox.cpio
SHELL_SCRIPTS := $(wildcard user/sh/*.sh)

BENCH_ARGS ?=
# smpbench's list of CPU counts: SMP if given, else 1 (not make run's default of 4).
SMPBENCH   := $(if $(filter file,$(origin SMP)),1,$(SMP))
PLUGIN     := build/icount.so
FUZZ_SEED  ?= $(shell date +%s)
FUZZ_CALLS ?= 1000000

.PHONY: all run test lint debug clean toolchain qemu gdb python cc hostcc user initrd fuzz bench smpbench \
	exercise shell FORCE

all: $(IMG)

toolchain:
	@scripts/need toolchain

qemu:
	@scripts/need qemu

gdb:
	@scripts/need gdb

cc:
	@scripts/need cc

hostcc:
	@scripts/need hostcc

python:
	@scripts/need python

# C programs: ordinary static Linux programs, built with Debian's cross compiler.
build/c/startup: user/c/startup.c | cc
	@mkdir -p build/c
	$(CROSS_CC) $(C_FLAGS) -static -nostdlib -fno-builtin -fno-stack-protector -o $@ $<

# The same demo as a static-pie program (ET_DYN, relocated by glibc itself).
build/c/cdemo-pie: user/c/cdemo.c | cc
	@mkdir -p build/c
	$(CROSS_CC) $(C_FLAGS) -static-pie -fPIE -o $@ $< -lpthread

build/c/%: user/c/%.c | cc
	@mkdir -p build/c
	$(CROSS_CC) $(C_FLAGS) -static -o $@ $< -lpthread

# Files that are not programs, for execve's errors: text, an x86-64 ELF header, a
# truncated ELF.
build/c/notelf:
	@mkdir -p build/c
	printf 'not a program\n' > $@

build/c/x86elf: build/c/startup | python
	python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[18:20] = (62).to_bytes(2, "little"); open(sys.argv[2], "wb").write(d)' $< $@

build/c/truncated: build/c/startup
	head -c 100 $< > $@

# Corrupted copies of the smallest program, for execfuzz.
build/c/tiny: user/c/tiny.c | cc
	@mkdir -p build/c
	$(CROSS_CC) $(C_FLAGS) -static -nostdlib -Wl,-z,max-page-size=4096 -Wl,--build-id=none -o $@ $<

build/c/fuzz/stamp: build/c/tiny scripts/mutate | python
	scripts/mutate 1 $(FUZZ_FILES) $< build/c/fuzz
	touch $@

# The test and demo archive: /init is cdemo; the other programs can be execve'd.
$(INITRD_CPIO): $(C_PROGS) build/c/notelf build/c/x86elf build/c/truncated user scripts/mkcpio \
	    build/c/fuzz/stamp | python
	scripts/mkcpio $@ init=build/c/cdemo cdemo=build/c/cdemo cdemo-pie=build/c/cdemo-pie \
	    exectest=build/c/exectest execfuzz=build/c/execfuzz forktrace=build/c/forktrace \
	    errcheck=target/aarch64-unknown-none/release/errcheck \
	    bench=target/aarch64-unknown-none/release/bench \
	    $(foreach f,$(wildcard build/c/fuzz/[0-9]*),fuzz/$(notdir $(f))=$(f)) \
	    startup=build/c/startup utest=$(UTEST) notelf=build/c/notelf \
	    x86elf=build/c/x86elf truncated=build/c/truncated noexec=build/c/startup:644

initrd: $(INITRD_CPIO)

build/busybox/busybox: scripts/fetch-busybox
	scripts/fetch-busybox

# /init is none: the kernel runs `/bin/sh /etc/init.sh [TEST]` (user/sh/init.sh), which
# mounts /proc and installs the applet links. The test scripts are /tests/NAME.sh.
$(BUSYBOX_CPIO): build/busybox/busybox $(SHELL_SCRIPTS) scripts/mkcpio | python
	scripts/mkcpio $@ bin/busybox=build/busybox/busybox 'bin/sh->busybox' sbin/ usr/bin/ \
	    usr/sbin/ proc/ etc/init.sh=user/sh/init.sh:644 \
	    $(foreach f,$(filter-out user/sh/init.sh,$(SHELL_SCRIPTS)),tests/$(notdir $(f))=$(f):644)

shell: $(IMG) $(BUSYBOX_CPIO) qemu
	$(QEMU) -M $(MACHINE) -cpu $(CPU) -smp $(SMP) -m $(MEM) -nographic -nic none -semihosting \
	    -kernel $(IMG) -initrd $(BUSYBOX_CPIO) -append "$(strip $(CMDLINE) init=/bin/sh -- /etc/init.sh $(TEST))"

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

run: $(IMG) $(INITRD) qemu
	$(QEMU) $(QEMU_ARGS)

test: $(IMG) $(INITRD_CPIO) $(BUSYBOX_CPIO) qemu gdb hostcc
	$(CARGO) test --no-fail-fast -p forkos-lib -p forkos-tests -- $(T)

lint: user
	$(CARGO) fmt --all --check
	$(CARGO) clippy -p forkos-lib -p forkos-tests --all-targets -- -D warnings
	$(CARGO) clippy $(USER_CARGO_FLAGS) -- -D warnings
	$(CARGO) clippy $(KERNEL_CARGO_FLAGS) -- -D warnings

# The QEMU plugin that counts each vCPU's instructions between marker instructions
# (tools/icount-plugin/README.md), built for the host.
$(PLUGIN): tools/icount-plugin/icount.c tools/icount-plugin/markers.h \
	    tools/icount-plugin/qemu-plugin-api.h | hostcc
	@mkdir -p build
	gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $<

# Benchmarks (user/src/bin/bench.rs) under -icount: the same figures on every run.
bench: $(IMG) $(INITRD_CPIO) $(PLUGIN) qemu python
	scripts/bench $(BENCH_ARGS)
	@echo
	scripts/smpbench $(SMPBENCH)

smpbench: $(IMG) $(INITRD_CPIO) $(PLUGIN) qemu python
	scripts/smpbench $(SMPBENCH)

# The syscall fuzzer (user/src/bin/sysfuzz.rs) as pid 1, every address space checked after
# every memory call (debug_vm); the seed is printed for replay.
fuzz: $(IMG) qemu
	$(QEMU) $(QEMU_ARGS) -append "debug_vm init=/sysfuzz -- $(FUZZ_SEED) $(FUZZ_CALLS)"

# Exercises (docs/exercises.md): remove the reference code of exercise E from the kernel.
exercise: python
	@scripts/exercise $(E)

debug: $(IMG) qemu gdb
	$(QEMU) $(QEMU_ARGS) -s -S & \
	gdb-multiarch -q -x scripts/forkos.gdb $(ELF); \
	kill %1 2>/dev/null || true

clean:
	$(CARGO) clean
	rm -rf build

FORCE:

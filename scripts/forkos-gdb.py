"""GDB commands for forkos (Linux: scripts/gdb/, the `lx-` commands of vmlinux-gdb.py).

Loaded by scripts/forkos.gdb (`make debug`), or by hand with
`source scripts/forkos-gdb.py`; nothing here needs a connection until a command runs.

    fk-current              the running task (Linux `$lx_current()`)
    fk-ps                   every task, ps-style (Linux `lx-ps`, SysRq `t`)
    fk-pt-regs [TASK]       a task's pt_regs, the user context saved by kernel_entry
    fk-cpu-context [TASK]   a task's cpu_context, where cpu_switch_to resumes it
    fk-break-fork [PID]     breakpoints on do_fork, copy_thread and ret_from_fork
    $fk_current()           the running task, for expressions and conditions
    $fk_task_by_pid(PID)    the task with that pid (Linux `$lx_task_by_pid`)
    $fk_pt_regs([TASK])     a task's pt_regs, for expressions

TASK is a pid (a decimal number) or an expression for a task: its address (`$x0`,
`0xffff...`), a pointer or reference (copy_thread's `p`), or an `Arc<Task>` (copy_process's
`p`). Every layout (field offsets, sizes, enum values) comes from the kernel's
debug info; the kernel stack constants, which Rust's debug info does not carry, from the
kernel's `GDB_CONSTANTS` static (kernel/src/arch/aarch64/process.rs).
"""

import re

import gdb

# Where things live in the kernel. If one is renamed or moved, fix it here.
TASK_TYPE = "forkos::task::Task"
TASK_STATE_TYPE = "forkos::task::TaskState"
PT_REGS_TYPE = "forkos::arch::aarch64::ptrace::PtRegs"
PID_TABLE = "forkos::pid::PID_TABLE"
RUNQUEUES = "forkos::sched::RUNQUEUES"
PER_CPU = "forkos::arch::aarch64::percpu::PER_CPU"
GDB_CONSTANTS = "forkos::arch::aarch64::process::GDB_CONSTANTS"
INIT_STACK = "forkos::arch::aarch64::head::init_stack"
# Rust names for the breakpoints of fk-break-fork (plain `copy_thread` would also match
# forkos::trace::copy_thread).
FORK_BREAKPOINTS = (
    "forkos::fork::do_fork",
    "forkos::arch::aarch64::process::copy_thread",
    "ret_from_fork",
)


# Reading Rust values


def lookup_static(name):
    """The value of a kernel static, by its full Rust path."""
    sym = gdb.lookup_static_symbol(name) or gdb.lookup_global_symbol(name)
    if sym is None:
        raise gdb.GdbError(
            "no symbol %s in the debug info: is this build/forkos.elf? (or it was "
            "renamed: update scripts/forkos-gdb.py)" % name
        )
    return sym.value()


def lookup_type(name):
    try:
        return gdb.lookup_type(name)
    except gdb.error:
        raise gdb.GdbError("no type %s in the debug info: is this build/forkos.elf?" % name)


# Wrappers whose only job is to hold one value, and the field that holds it.
_WRAPPER_FIELDS = ("data", "value", "v", "inner", "__0")
_WRAPPER_PREFIXES = (
    "core::sync::atomic::",
    "core::cell::UnsafeCell<",
    "core::mem::",  # ManuallyDrop, MaybeUninit, MaybeDangling
    "forkos::sync::IrqSpinLock<",
    "spin::",
)


def unwrap(v):
    """The value inside atomics, cells and locks: `IrqSpinLock<T>` -> `T`,
    `AtomicU32` -> `u32` (what `.lock()` or `.load()` would give, without locking)."""
    while v.type.strip_typedefs().code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION) and (
        (v.type.strip_typedefs().name or "").startswith(_WRAPPER_PREFIXES)
    ):
        fields = [f for f in v.type.strip_typedefs().fields() if f.type.sizeof > 0]
        names = [f.name for f in fields]
        field = next((n for n in _WRAPPER_FIELDS if n in names), None)
        if field is None and len(names) == 1:
            field = names[0]  # e.g. AtomicPtr's `p`
        if field is None:
            break
        v = v[field]
    return v


def variant(v):
    """(name, payload) of a Rust enum value: gdb resolves the value's type to its
    active variant, the one named field (the unnamed one is the discriminant)."""
    named = [f for f in v.type.fields() if f.name]
    if len(named) != 1:
        raise gdb.GdbError("cannot decode the enum %s" % v.type)
    return named[0].name.split("::")[-1], v[named[0]]


def arc_target(v):
    """What an `Arc<T>` or `Weak<T>` points to, as a `*T`; None for a dangling `Weak`
    (`Weak::new()`) or one whose value is gone (strong count 0, `upgrade()` fails)."""
    inner = v["ptr"]["pointer"]
    if int(inner) in (0, (1 << 64) - 1):
        return None
    arc_inner = inner.dereference()
    if int(unwrap(arc_inner["strong"])) == 0:
        return None
    return arc_inner["data"].address


def option(v):
    """The payload of `Some(x)`, or None."""
    name, payload = variant(v)
    return payload["__0"] if name == "Some" else None


def btree_values(map_value):
    """The values of a `BTreeMap`, in key order (as rustc's own GDB pretty printer,
    gdb_providers.py, walks it)."""
    root = option(map_value["root"])
    if root is None:
        return

    def walk(node, height):
        leaf = node.dereference()
        if height > 0:
            internal = lookup_type(node.type.target().name.replace("LeafNode", "InternalNode", 1))
            edges = node.cast(internal.pointer()).dereference()["edges"]
        for i in range(int(leaf["len"]) + 1):
            if height > 0:
                yield from walk(unwrap(edges[i])["pointer"], height - 1)
            if i < int(leaf["len"]):
                yield unwrap(leaf["vals"][i])

    yield from walk(root["node"]["pointer"], int(root["height"]))


def u64(v):
    return int(v) & ((1 << 64) - 1)


def symbol(pc):
    """`function+0xoff` for a kernel address (the function that holds it, not the
    functions inlined into it), or '' when none is known."""
    try:
        out = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
    except gdb.error:
        return ""
    if out.startswith("No symbol"):
        return ""
    name, _, off = out.split(" in section")[0].partition(" + ")
    # forkos::sched::__schedule::hb62f228fd9013c91 -> sched::__schedule
    parts = name.split("::")
    if len(parts) > 1 and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    if parts[0] == "forkos":
        parts.pop(0)
    name = "::".join(parts)
    return "%s+%s" % (name, hex(int(off))) if off else name


# Tasks


def task_ptr(addr):
    return gdb.Value(addr).cast(lookup_type(TASK_TYPE).pointer())


def runqueues():
    """(cpu, run queue) of every CPU that has an idle task, i.e. that came up (Linux
    `for_each_online_cpu` with `cpu_rq`)."""
    rqs = lookup_static(RUNQUEUES)
    out = []
    for cpu in range(rqs.type.strip_typedefs().range()[1] + 1):
        rq = unwrap(rqs[cpu]["__0"])  # RqSlot(IrqSpinLock<Rq>): the cache-aligned slot
        if option(rq["idle"]) is not None:
            out.append((cpu, rq))
    return out


def all_tasks():
    """Each CPU's idle task (pid 0), then every task in PID_TABLE by pid (Linux's task
    list, `for_each_process_thread`)."""
    tasks = []
    for _, rq in runqueues():
        tasks.append(arc_target(option(rq["idle"])))
    table = unwrap(lookup_static(PID_TABLE))
    for entry in btree_values(table["tasks"]):
        arc = option(entry)
        if arc is not None:  # not a pid reserved for a task being created
            tasks.append(arc_target(arc))
    return tasks


def current_cpu():
    """This CPU's number: QEMU shows each CPU as a GDB thread."""
    return max(gdb.selected_thread().num - 1, 0)


def current_el():
    return (u64(gdb.parse_and_eval("$cpsr")) >> 2) & 3


def current_task():
    """The running task (Linux `get_current`): `sp_el0` while in the kernel. User space
    owns `sp_el0`, so at EL0 (or before kernel_entry has set it) take the task the
    scheduler last switched to, `PER_CPU.entry_task` (Linux `__entry_task`)."""
    sp_el0 = u64(gdb.parse_and_eval("$SP_EL0"))
    if current_el() != 0 and sp_el0 >> 63:
        return task_ptr(sp_el0)
    entry = u64(unwrap(lookup_static(PER_CPU)[current_cpu()]["entry_task"]))
    if entry == 0:
        raise gdb.GdbError("no current task yet: the scheduler has not started (sched_init)")
    return task_ptr(entry)


def task_by_pid(pid):
    for t in all_tasks():
        if int(t.dereference()["pid"]) == pid:
            return t
    raise gdb.GdbError("no task with pid %d" % pid)


def parse_task(arg):
    """A task from a command argument: none = current, a decimal number = a pid,
    anything else = an expression for the task's address."""
    arg = arg.strip()
    if not arg:
        return current_task()
    if arg.isdigit():
        return task_by_pid(int(arg))
    return task_from_value(gdb.parse_and_eval(arg))


def task_from_value(v):
    """A task from a value: a Task, a pointer or reference to one, an `Arc<Task>` (such as
    copy_process's `p`), or an address."""
    t = v.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_STRUCT:
        if (t.name or "").startswith(("alloc::sync::Arc<", "alloc::sync::Weak<")):
            target = arc_target(v)
            if target is None:
                raise gdb.GdbError("%s points to no task" % t.name)
            return task_ptr(u64(target))
        return task_ptr(u64(v.address))
    return task_ptr(u64(v))


def state_name(t):
    """The task's TaskState by name, from the enum in the debug info."""
    n = int(unwrap(t["state"]))
    for f in lookup_type(TASK_STATE_TYPE).fields():
        if f.enumval == n:
            return f.name.split("::")[-1]
    return str(n)


def comm(t):
    raw = unwrap(t["comm"])
    b = bytes(int(raw[i]) & 0xFF for i in range(raw.type.range()[1] + 1))
    return b.split(b"\0")[0].decode("utf-8", "replace")


def ppid(t):
    """The parent's tgid, as getppid() reports it; 0 without a parent."""
    parent = arc_target(unwrap(t["inner"])["parent"])
    return int(parent.dereference()["tgid"]) if parent is not None else 0


def has_mm(t):
    return option(unwrap(t["inner"])["mm"]) is not None


def stack_base(t):
    """The lowest address of the task's kernel stack (`KernelStack::base`)."""
    name, payload = variant(t["stack"])
    if name == "Init":
        return u64(lookup_static(INIT_STACK).address)
    consts = lookup_static(GDB_CONSTANTS)
    return u64(consts["kstack_start"]) + int(payload["__0"]) * u64(consts["kstack_slot"])


def stack_top(t):
    return stack_base(t) + u64(lookup_static(GDB_CONSTANTS)["thread_size"])


def task_pt_regs(t):
    """The `pt_regs` at the top of the task's kernel stack (Linux `task_pt_regs`)."""
    regs_type = lookup_type(PT_REGS_TYPE)
    return gdb.Value(stack_top(t) - regs_type.sizeof).cast(regs_type.pointer())


def cpu_context(t):
    return unwrap(t["thread"])["cpu_context"]


def print_registers(pairs, per_row=3):
    """`x0 : 0x0000000000000000   x1 : ...`, `per_row` to a line."""
    for i in range(0, len(pairs), per_row):
        print("  " + "   ".join("%-3s: 0x%016x" % nv for nv in pairs[i : i + per_row]))


def describe(t):
    """`pid 3 (init)`."""
    return "pid %d (%s)" % (int(t["pid"]), comm(t))


# Commands


def explain(err):
    """A gdb.GdbError for a failed memory read, with the usual reason spelled out."""
    try:
        el = current_el()
    except gdb.error:
        el = None
    if el == 0:
        return gdb.GdbError(
            "%s: the CPU is running user code (EL0), and QEMU's GDB stub reads memory "
            "with the CPU's current privileges, so kernel memory is out of reach (Linux's "
            "lx-current refuses at EL0 too). Stop in the kernel first, e.g. "
            "`break el0t_64_sync_handler` and `continue`." % err
        )
    return gdb.GdbError("%s (is the kernel past sched_init, and is this its ELF?)" % err)


class FkCommand(gdb.Command):
    """A forkos command: `run(arg)` does the work; memory errors are explained."""

    # Commands that only set breakpoints work before the connection too.
    needs_target = True

    def invoke(self, arg, from_tty):
        if self.needs_target and gdb.selected_thread() is None:
            raise gdb.GdbError("not connected to QEMU: `target remote :1234` (make debug does)")
        try:
            self.run(arg.strip())
        except gdb.MemoryError as err:
            raise explain(err)


class FkFunction(gdb.Function):
    """A forkos convenience function: `run(*args)` does the work."""

    def invoke(self, *args):
        if gdb.selected_thread() is None:
            raise gdb.GdbError("not connected to QEMU: `target remote :1234` (make debug does)")
        try:
            return self.run(*args)
        except gdb.MemoryError as err:
            raise explain(err)


class FkCurrent(FkCommand):
    """Print the running task (Linux `current`, `$lx_current()`).

Usage: fk-current

In the kernel, sp_el0 holds the running task's address (arm64 Linux's `get_current`).
While the CPU runs user code (EL0), sp_el0 is the user stack pointer; the task is then
the one the scheduler switched to last (`PER_CPU.entry_task`), but QEMU's stub cannot
read kernel memory at EL0: stop in the kernel first. Prints the task's address, pid,
thread group, parent, state, name, kernel stack and pt_regs address. The task itself is
`$fk_current()`: try `p $fk_current().pid`."""

    def __init__(self):
        super().__init__("fk-current", gdb.COMMAND_DATA)

    def run(self, arg):
        t = current_task()
        v = t.dereference()
        el = current_el()
        how = "sp_el0" if el != 0 else "PER_CPU.entry_task, the CPU is at EL0"
        print("current: task 0x%x (%s)" % (u64(t), how))
        print(
            "  pid %d, tgid %d, ppid %d, %s, comm %r, %s"
            % (
                int(v["pid"]),
                int(v["tgid"]),
                ppid(v),
                state_name(v),
                comm(v),
                "kernel thread" if bool(v["kthread"]) else "user task",
            )
        )
        print(
            "  kernel stack 0x%x-0x%x, pt_regs at 0x%x; the CPU is at EL%d"
            % (stack_base(v), stack_top(v), u64(task_pt_regs(v)), el)
        )


class FkPs(FkCommand):
    """List every task, ps-style (Linux `lx-ps`, SysRq `t`; the console's `p`).

Usage: fk-ps

First each CPU's running task (GDB thread N+1 is CPU N), then a row per task. Columns:
pid, thread group id, parent's tgid, state (`*` marks the selected CPU's running task),
the CPU it runs on or last ran on (`task_cpu`), name,
the task's address, the base of its kernel stack (THREAD_SIZE bytes), where it stopped
in the kernel (cpu_context.pc: where cpu_switch_to resumes it; stale for the running
task) and, for tasks with user memory, the user pc saved in its pt_regs. The tasks are
the idle task (pid 0) and everything in PID_TABLE (kernel/src/pid.rs); a task that
copy_process is still building is listed from attach_pid on."""

    def __init__(self):
        super().__init__("fk-ps", gdb.COMMAND_DATA)

    def run(self, arg):
        try:
            cur = u64(current_task())
        except gdb.GdbError:
            cur = None
        # Each CPU's running task (its run queue's `curr`); QEMU shows CPU N as GDB
        # thread N + 1, and the selected one is where `fk-current` and registers look.
        for cpu, rq in runqueues():
            curr = option(rq["curr"])
            t = arc_target(curr) if curr is not None else None
            print(
                "CPU %d: %s%s"
                % (
                    cpu,
                    describe(t.dereference()) if t is not None else "-",
                    " (GDB thread %d, selected)" % (cpu + 1) if cpu == current_cpu() else "",
                )
            )
        rows = [
            ("pid", "tgid", "ppid", "state", "cpu", "comm", "task", "kernel stack")
            + ("cpu_context.pc", "user pc")
        ]
        for t in all_tasks():
            v = t.dereference()
            kpc = u64(cpu_context(v)["pc"])
            upc = u64(task_pt_regs(v).dereference()["pc"]) if has_mm(v) else None
            rows.append(
                (
                    str(int(v["pid"])),
                    str(int(v["tgid"])),
                    str(ppid(v)),
                    state_name(v) + (" *" if u64(t) == cur else ""),
                    str(int(unwrap(v["cpu"]))),
                    comm(v),
                    "0x%x" % u64(t),
                    "0x%x" % stack_base(v),
                    (symbol(kpc) or "0x%x" % kpc) if kpc else "-",
                    "0x%x" % upc if upc is not None else "-",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            cells = [c.rjust(w) if i < 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
            print(" ".join(cells).rstrip())


class FkPtRegs(FkCommand):
    """Print a task's pt_regs: the user (or interrupted) context kernel_entry saved at the
top of its kernel stack (Linux `task_pt_regs`, `struct pt_regs`).

Usage: fk-pt-regs [TASK]
       fk-pt-regs -a ADDRESS

TASK is a pid (decimal), or an expression for a task (`$child`, copy_thread's `p`, an
address); without it, the running task. With -a, decode the pt_regs at ADDRESS (e.g. `-a $sp` right
after kernel_entry). Prints x0-x30, sp, pc, pstate (decoded), orig_x0 and syscallno.
While the task runs user code, its pt_regs hold what was saved at its last kernel
entry; `info registers` shows the live registers."""

    def __init__(self):
        super().__init__("fk-pt-regs", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def run(self, arg):
        arg = arg.strip()
        regs_type = lookup_type(PT_REGS_TYPE)
        if arg.startswith("-a"):
            addr = u64(gdb.parse_and_eval(arg[2:].strip()))
            print("pt_regs at 0x%x:" % addr)
        else:
            t = parse_task(arg).dereference()
            addr = u64(task_pt_regs(t))
            print("pt_regs of %s at 0x%x (top of its kernel stack):" % (describe(t), addr))
        r = gdb.Value(addr).cast(regs_type.pointer()).dereference()
        print_registers([("x%d" % i, u64(r["regs"][i])) for i in range(31)])
        pstate = u64(r["pstate"])
        el = (pstate >> 2) & 3
        mode = "EL%d%s" % (el, "h" if pstate & 1 else "t")
        pc = u64(r["pc"])
        where = symbol(pc) if pc >> 63 else ""
        print("  sp : 0x%016x" % u64(r["sp"]))
        print("  pc : 0x%016x%s" % (pc, "  " + where if where else ""))
        print(
            "  pstate: 0x%08x (%s, DAIF 0x%x, NZCV 0x%x)"
            % (pstate, mode, (pstate >> 6) & 0xF, (pstate >> 28) & 0xF)
        )
        scno = int(r["syscallno"])
        print(
            "  orig_x0: 0x%x   syscallno: %d%s"
            % (u64(r["orig_x0"]), scno, " (not a syscall)" if scno < 0 else "")
        )


class FkCpuContext(FkCommand):
    """Print a task's cpu_context: where cpu_switch_to resumes it in the kernel (Linux
`thread.cpu_context`: x19-x28, fp (x29), sp, pc).

Usage: fk-cpu-context [TASK]

TASK is a pid (decimal) or an expression for a task (`$child`, copy_thread's `p`, an
address); without it, the running task, whose cpu_context is stale: it is saved only
when the task is switched out. For a task copy_thread just made, pc is ret_from_fork
and sp its pt_regs (childregs); x19 is 0 for a user task, or the function a kernel
thread runs (x20 its argument). fp is x29."""

    def __init__(self):
        super().__init__("fk-cpu-context", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def run(self, arg):
        t = parse_task(arg).dereference()
        ctx = cpu_context(t)
        print("cpu_context of %s at 0x%x:" % (describe(t), u64(ctx.address)))
        print_registers([("x%d" % i, u64(ctx["x%d" % i])) for i in range(19, 29)])
        regs = u64(task_pt_regs(t))
        for n in ("fp", "sp", "pc"):
            val = u64(ctx[n])
            note = ""
            if n == "pc" and val:
                note = symbol(val)
            elif n == "sp" and val == regs:
                note = "= its pt_regs (childregs)"
            print("  %-3s: 0x%016x%s" % (n, val, "  " + note if note else ""))


class FkBreakFork(FkCommand):
    """Set breakpoints along the fork path: do_fork, copy_thread and ret_from_fork.

Usage: fk-break-fork [PID]

do_fork (kernel/src/fork.rs, Linux kernel_clone) starts every task creation;
copy_thread (kernel/src/arch/aarch64/process.rs) writes the child's pt_regs (x0 = 0)
and cpu_context; ret_from_fork (assembly in process.rs) is where every new task first
runs. They are hardware breakpoints, which work even before the MMU is on (a software
breakpoint must be written into memory at the kernel's virtual address).

Without PID they stop at every task creation, the first two at boot (pid 0 creates
init, pid 1, and a kernel thread, pid 2). With PID, do_fork and copy_thread stop only
when task PID forks (`$fk_current().pid == PID`), and ret_from_fork only for a user
task (`$x19 == 0`; x19 is the function a kernel thread runs): `fk-break-fork 1` stops
at the demo's fork."""

    needs_target = False

    def __init__(self):
        super().__init__("fk-break-fork", gdb.COMMAND_BREAKPOINTS)

    def run(self, arg):
        if arg and not arg.isdigit():
            raise gdb.GdbError("usage: fk-break-fork [PID]")
        for loc in FORK_BREAKPOINTS:
            if not arg:
                cond = ""
            elif loc == "ret_from_fork":
                cond = " if $x19 == 0"
            else:
                cond = " if $fk_current().pid == " + arg
            gdb.execute("break %s%s" % (loc, cond))


class FkCurrentFunction(FkFunction):
    """The running task, a forkos::task::Task (Linux `$lx_current()`).

Usage: $fk_current()

For expressions and breakpoint conditions: `p $fk_current().pid`,
`break forkos::fork::do_fork if $fk_current().pid == 1`."""

    def __init__(self):
        super().__init__("fk_current")

    def run(self):
        return current_task().dereference()


class FkTaskByPid(FkFunction):
    """The task with a pid, a forkos::task::Task (Linux `$lx_task_by_pid`).

Usage: $fk_task_by_pid(PID)"""

    def __init__(self):
        super().__init__("fk_task_by_pid")

    def run(self, pid):
        return task_by_pid(int(pid)).dereference()


class FkPtRegsFunction(FkFunction):
    """A task's pt_regs, a forkos::arch::aarch64::ptrace::PtRegs (Linux `task_pt_regs`).

Usage: $fk_pt_regs([TASK])

TASK is a task (`$fk_current()`), a task's address, or a pid; without it, the running
task. E.g. `p/x $fk_pt_regs(3).pc`, or a breakpoint where the running task will
return to user space: `hbreak *$fk_pt_regs().pc`."""

    def __init__(self):
        super().__init__("fk_pt_regs")

    def run(self, task=None):
        if task is None:
            t = current_task()
        elif task.type.strip_typedefs().code == gdb.TYPE_CODE_INT and int(task) < 1 << 32:
            t = task_by_pid(int(task))
        else:
            t = task_from_value(task)
        return task_pt_regs(t.dereference()).dereference()


FkCurrent()
FkPs()
FkPtRegs()
FkCpuContext()
FkBreakFork()
FkCurrentFunction()
FkTaskByPid()
FkPtRegsFunction()
print(
    "forkos GDB commands loaded: fk-current, fk-ps, fk-pt-regs, fk-cpu-context, "
    "fk-break-fork, $fk_current(), $fk_task_by_pid(), $fk_pt_regs(); `help fk-ps` etc."
)

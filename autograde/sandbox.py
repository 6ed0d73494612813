"""Run grading kernels in a bubblewrap sandbox, under a memory watchdog.

The grader starts each notebook's kernel through this module (a kernelspec whose ``argv``
is ``python -m autograde.sandbox POLICY -- python -m ipykernel_launcher -f CONN``). The
launcher stays alive as the kernel's **watchdog** and starts it, with an explicit, minimal
environment (no variable of the grader's own: ``PATH``, ``HOME=/tmp``, ``LANG``,
``PYTHONPATH`` to the course library, the thread counts, ``MPLBACKEND=Agg``), under:

- a **memory cap on memory actually used**: every ``poll_s`` the watchdog adds up the
  resident anonymous and shared memory of every process of the kernel's tree plus what its
  private ``/tmp``, ``/dev/shm`` and runtime folder hold; past ``memory_mb`` it kills the
  whole tree and writes a note (``used more than N MB of memory``) that the pool turns into
  the student's flag. Address space is not memory: a CUDA build of torch reserves ~18 GB of
  it with 0.6 GB resident, so ``RLIMIT_AS`` is only a 1 TB backstop;
- a CPU-time cap (``RLIMIT_CPU``, default 600 s) and a file-size cap (``RLIMIT_FSIZE``);
- ``threads`` threads for OpenMP / OpenBLAS / MKL / torch (cores / jobs);
- no GPU unless the policy says ``gpu`` (then ``/dev/nvidia*`` and a per-kernel memory
  fraction of the GPU, ``torch.cuda.set_per_process_memory_fraction``).

bubblewrap gives the kernel an **allow-list** view of the machine: an empty read-only root
with only the system folders Python needs (``/usr``, ``/lib*``, a few files of ``/etc``),
the course environment (``sys.prefix`` and the base interpreter), the course library's
packages (the ``library`` folder of the policy, read-only), the staged notebook's own folder
(read-only), the kernel's private runtime folder (its connection file and Unix sockets; no
other kernel's), ``/sys`` and ``/proc`` read-only, a minimal ``/dev`` (read-only but for a
sized ``/dev/shm``) and a private, sized ``/tmp``; no network (``--unshare-net``), no
capabilities (also when grading as root), its own PID/IPC/UTS namespaces and session, and
death with its parent.

When ``bwrap`` is missing or cannot create namespaces (some containers forbid it), the
grader refuses to grade unless told ``--no-sandbox``; the kernel then gets the watchdog,
the limits and the minimal environment only (see autograde/README.md, "Sandbox").
"""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

KERNEL_NAME = "training-nn-grading"
DEFAULT_MEMORY_MB = 4096
DEFAULT_CPU_SECONDS = 600
DEFAULT_FILE_MB = 256
#: address-space backstop only (a CUDA torch import reserves ~18 GB it never uses)
ADDRESS_SPACE_BACKSTOP = 1 << 40
#: how often the watchdog measures the kernel's memory, in seconds
POLL_SECONDS = 0.2
#: the environment variable naming the file where limit notes go (one per grading worker)
NOTES_ENV = "TNN_SANDBOX_NOTES"
#: variables of the grader's environment a kernel gets (the run's marker, for tests)
PASSED_ENV = ("TNN_GRADING_COURSE",)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
#: the few files of /etc a Python process reads (dynamic loader, time zone, users, locale)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
             "nsswitch.conf", "locale.alias", "alternatives", "mime.types", "fonts")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! WARNING: bubblewrap (bwrap) is not usable here, so student code is NOT sandboxed:\n"
    "!! it runs with memory/CPU limits only, with network access and read access to\n"
    "!! solutions/ and the gradebook. Install it (apt-get install -y bubblewrap) or grade\n"
    "!! on a machine where unprivileged namespaces are allowed. See autograde/README.md.\n"
    + "!" * 78 + "\n"
)

INSTALL_COMMAND = "sudo apt-get install -y bubblewrap   (Fedora: sudo dnf install -y bubblewrap)"

REFUSAL = (
    "make grade: refusing to run students' code without the sandbox.\n"
    "  missing: {}\n"
    f"  install: {INSTALL_COMMAND}\n"
    "           (make grade installs it by itself when run as root or with passwordless sudo)\n"
    "  or accept the risk explicitly: make grade GRADE_ARGS=--no-sandbox\n"
    "  Students checking their own work need none of this (autograde/README.md, 'Sandbox')."
)


def unavailable_reason() -> str:
    """Why the sandbox cannot run here ('' when it can): what a message should name."""
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (bwrap) is not installed"
    if not bwrap_available():
        return ("bubblewrap is installed but cannot create namespaces here (a container "
                "without user namespaces?)")
    return ""


@lru_cache(maxsize=1)
def bwrap_available() -> bool:
    """True when ``bwrap`` exists and can create the namespaces the sandbox uses."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        probe = subprocess.run(
            [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
             "--unshare-pid", "--unshare-ipc", "--die-with-parent", "true"],
            capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU device (without starting CUDA)."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def default_threads(jobs: int | None) -> int:
    """Threads per kernel: the machine's cores shared among ``jobs`` kernels (at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, jobs or cores or 1))


def hidden_paths(*roots: Path) -> list[str]:
    """Folders of each course root a grading kernel must never read (for the record: with
    the allow-list they are simply not bound; a policy still lists them, and a runtime
    folder holding one of them is refused)."""
    out = []
    for root in roots:
        root = Path(root).resolve()
        for name in ("solutions", "tests", ".git", "autograde", "benchmarks", "exercises",
                     "lectures"):
            if (root / name).exists():
                out.append(str(root / name))
    return sorted(set(out))


def environment_paths() -> list[str]:
    """The course environment: the venv and the interpreter it was made from."""
    paths = {str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve()),
             str(Path(sys.executable).resolve().parent.parent)}
    system = tuple(d + "/" for d in SYSTEM_DIRS)
    return sorted(p for p in paths if p != "/" and not (p + "/").startswith(system))


def write_kernelspec(
    dest: Path,
    *,
    roots: list[Path],
    memory_mb: int = DEFAULT_MEMORY_MB,
    cpu_seconds: int = DEFAULT_CPU_SECONDS,
    use_bwrap: bool | None = None,
    threads: int = 1,
    gpu: bool = False,
    gpu_fraction: float = 1.0,
    library: Path | str | None = None,
    packages: tuple[str, ...] = ("tnn",),
) -> Path:
    """Write ``dest/kernels/<KERNEL_NAME>/kernel.json`` and its policy; return ``dest``.

    Put ``dest`` on ``JUPYTER_PATH`` and set ``Execute.kernel_name = KERNEL_NAME``.
    ``library`` is the folder put on the kernel's ``PYTHONPATH``; only its ``packages`` are
    visible in the sandbox (default: the course root, i.e. its ``tnn/``).
    """
    if use_bwrap is None:
        use_bwrap = bwrap_available()
    library = Path(library or Path(__file__).resolve().parent.parent).resolve()
    kdir = Path(dest) / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    policy = {
        "bwrap": bool(use_bwrap),
        "hide": hidden_paths(*roots),
        "environment": environment_paths(),
        "library": str(library),
        "packages": [str(library / p) for p in packages if (library / p).exists()],
        "memory_mb": int(memory_mb),
        "cpu_seconds": int(cpu_seconds),
        "file_mb": DEFAULT_FILE_MB,
        "threads": max(1, int(threads)),
        "gpu": bool(gpu),
        "gpu_fraction": float(gpu_fraction),
        "poll_s": POLL_SECONDS,
    }
    (kdir / "policy.json").write_text(json.dumps(policy, indent=1))
    argv = [sys.executable, "-m", "autograde.sandbox", str(kdir / "policy.json"), "--",
            sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher",
            "-f", "{connection_file}"]
    if gpu:  # a share of the GPU's memory per kernel, set before any student code runs
        argv.append("--IPKernelApp.exec_lines=" + json.dumps([
            "import torch as _t; _t.cuda.is_available() and "
            f"_t.cuda.set_per_process_memory_fraction({float(gpu_fraction):.4f}); del _t"]))
    spec = {
        "argv": argv,
        "display_name": "Python (training-nn, grading sandbox)",
        "language": "python",
        # The kernel runs in its own session: interrupt it with a message, not a signal.
        "interrupt_mode": "message",
        "env": {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return Path(dest)


def kernel_env(policy: dict, home: str = "/tmp", environ=None) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's but :data:`PASSED_ENV`."""
    environ = os.environ if environ is None else environ
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": home, "IPYTHONDIR": f"{home}/.ipython",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
        "PYTHONPATH": policy.get("library", ""), "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg", "TQDM_DISABLE": "1",
    }
    for name in THREAD_VARIABLES:
        env[name] = str(policy.get("threads", 1))
    if policy.get("gpu"):
        if "CUDA_VISIBLE_DEVICES" in environ:
            env["CUDA_VISIBLE_DEVICES"] = environ["CUDA_VISIBLE_DEVICES"]
    else:  # grades must not depend on the grading machine's GPU
        env["CUDA_VISIBLE_DEVICES"] = ""
    for name in PASSED_ENV:
        if name in environ:
            env[name] = environ[name]
    return env


def _bind_system(cmd: list[str]) -> None:
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for name in ETC_FILES:
        if os.path.lexists(f"/etc/{name}"):
            cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]


def bwrap_command(policy: dict, cwd: str, runtime_dirs: list[str]) -> list[str]:
    """bubblewrap's command line: an allow-list of what the kernel may see."""
    memory = policy.get("memory_mb", DEFAULT_MEMORY_MB) * 2**20
    cmd = [shutil.which("bwrap") or "bwrap"]
    _bind_system(cmd)
    cmd += ["--ro-bind", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev",
            "--size", str(memory), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
            "--size", str(memory), "--tmpfs", "/tmp"]
    for path in policy.get("environment", []) + policy.get("packages", []):
        cmd += ["--ro-bind", path, path]  # after /tmp: a course cloned under /tmp keeps them
    for d in runtime_dirs:  # connection file and the kernel's Unix sockets
        d = os.path.abspath(d)
        if d in ("/", "/tmp") or any(h == d or h.startswith(d.rstrip("/") + "/")
                                     for h in policy.get("hide", [])):
            raise SystemExit(f"sandbox: refusing to share {d} with the kernel: it holds "
                             f"hidden paths; give the kernel a private runtime folder")
        cmd += ["--bind", d, d]
    cmd += ["--ro-bind", cwd, cwd]  # the notebook's own folder, and nothing next to it
    if policy.get("gpu"):  # only when asked: grades must not depend on the machine's GPU
        for dev in sorted(glob.glob("/dev/nvidia*")):
            cmd += ["--dev-bind-try", dev, dev]
    cmd += ["--remount-ro", "/"]
    # no capabilities, even when the grader runs as root: the read-only mounts stay so
    cmd += ["--cap-drop", "ALL"]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--chdir", cwd]
    return cmd


PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int = 0) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere).

    Grading workers, watchdogs and unsandboxed kernels use it, so that nothing of a run
    killed with ``kill -9`` goes on grading (bubblewrap's ``--die-with-parent`` does the
    same inside).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = expected_parent or os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def set_limits(policy: dict) -> None:
    """The kernel's rlimits: CPU time, file size, and a 1 TB address-space backstop."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BACKSTOP, ADDRESS_SPACE_BACKSTOP))
    cpu = policy["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    fsize = policy["file_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


# ---- the watchdog: resident memory of the kernel's process tree, plus its private files ----

def _children(pid: int) -> list[int]:
    try:
        out = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        return out
    except (OSError, ValueError):
        return []


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (via ``/proc/*/task/*/children``)."""
    tree, todo = [], [pid]
    while todo and len(tree) < 100_000:
        p = todo.pop()
        tree.append(p)
        todo += _children(p)
    return tree


def resident_bytes(pid: int) -> int:
    """Memory a process really uses: resident anonymous and shared-memory pages."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return total


def _used(path: str, size: int) -> int:
    """Bytes used in the tmpfs of ``size`` bytes mounted at ``path`` (0 for anything else:
    while bubblewrap sets up, ``/proc/PID/root/tmp`` may still be the machine's /tmp)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    if abs(st.f_blocks * st.f_frsize - size) > 2**20:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def folder_bytes(path: str, limit: int = 10_000) -> int:
    """Disk used by the files under ``path`` (at most ``limit`` entries are looked at)."""
    total, todo, seen = 0, [path], 0
    while todo and seen < limit:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for e in entries:
            seen += 1
            try:
                if e.is_dir(follow_symlinks=False):
                    todo.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    total += e.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


def memory_used(root_pid: int, writable: list[str], tmpfs_size: int = 0) -> int:
    """Bytes the kernel started as ``root_pid`` holds: its processes' resident memory, its
    private ``/tmp`` and ``/dev/shm`` (tmpfs: memory) and the host folders it may write."""
    tree = process_tree(root_pid)
    total = sum(resident_bytes(p) for p in tree)
    if tmpfs_size:
        own = os.stat("/proc/self/ns/mnt").st_ino if os.path.exists("/proc/self/ns/mnt") else 0
        for p in tree[1:]:
            try:
                if os.stat(f"/proc/{p}/ns/mnt").st_ino != own:
                    total += (_used(f"/proc/{p}/root/tmp", tmpfs_size)
                              + _used(f"/proc/{p}/root/dev/shm", tmpfs_size))
                    break
            except OSError:
                continue
    return total + sum(folder_bytes(d) for d in writable)


def kill_tree(pid: int) -> None:
    for p in reversed(process_tree(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def note_limit(message: str, where: str = "") -> None:
    """Append ``where<TAB>message`` to the worker's notes file (see :data:`NOTES_ENV`)."""
    path = os.environ.get(NOTES_ENV)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, (f"{where}\t{message}".replace("\n", " ") + "\n").encode())
    finally:
        os.close(fd)


def read_notes(path: str | Path) -> list[tuple[str, str]]:
    """``(where, message)`` pairs written by :func:`note_limit`, in order, without repeats."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        where, _, message = line.partition("\t")
        if message and (where, message) not in out:
            out.append((where, message))
    return out


def watch(child: subprocess.Popen, policy: dict, writable: list[str], where: str) -> int:
    """Wait for ``child``; kill its whole tree and note it when it uses too much memory."""
    cap = policy["memory_mb"] * 2**20
    poll = float(policy.get("poll_s", POLL_SECONDS))

    def stop(signum, _frame):
        kill_tree(child.pid)
        child.wait()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    parent = os.getppid()
    while child.poll() is None:
        if os.getppid() != parent:  # the grading worker is gone: so is its kernel
            kill_tree(child.pid)
            child.wait()
            return 137
        used = memory_used(child.pid, writable, cap if policy["bwrap"] else 0)
        if used > cap:
            kill_tree(child.pid)
            child.wait()
            note_limit(f"memory cap: the kernel used more than {policy['memory_mb']} MB of "
                       f"memory (resident memory of its processes plus its /tmp) and was "
                       f"stopped", where)
            return 137
        time.sleep(poll)
    return child.returncode


def main(argv: list[str]) -> None:
    """``python -m autograde.sandbox POLICY -- COMMAND...``: run COMMAND sandboxed, watched."""
    policy_file, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: python -m autograde.sandbox POLICY -- COMMAND...")
    policy = json.loads(Path(policy_file).read_text())
    cwd = os.getcwd()
    runtime = []
    if "-f" in command:
        runtime.append(os.path.dirname(os.path.abspath(command[command.index("-f") + 1])))
    # the watchdog dies with its grading worker (jupyter_client names it in JPY_PARENT_PID,
    # so a worker killed before this line is noticed too), and the kernel with it
    die_with_parent(int(os.environ.get("JPY_PARENT_PID", "0") or 0))
    if policy["bwrap"]:
        full = bwrap_command(policy, cwd, runtime) + command
        env = kernel_env(policy)
    else:  # no private /tmp: the kernel's home is a private folder next to its sockets
        home = tempfile.mkdtemp(prefix="home-", dir=runtime[0] if runtime else None)
        full, env = command, kernel_env(policy, home=home)

    def child_setup():
        set_limits(policy)
        die_with_parent()

    child = subprocess.Popen(full, env=env, preexec_fn=child_setup)
    sys.exit(watch(child, policy, runtime, os.path.basename(cwd)))


def runtime_dir() -> str:
    """A private folder for kernels' connection files and Unix sockets."""
    return tempfile.mkdtemp(prefix="tnn-kernels-")


if __name__ == "__main__":
    main(sys.argv[1:])

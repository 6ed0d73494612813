"""Run grading kernels inside a bubblewrap sandbox with resource limits.

The grader starts each notebook's kernel through this module (a kernelspec whose ``argv``
is ``python -m autograde.sandbox POLICY -- python -m ipykernel_launcher -f CONN``). Before it
``exec``s ``bwrap``, it sets:

- a memory cap (``RLIMIT_AS``, default 4 GiB): an allocation past it raises MemoryError or
  kills the kernel, and that hand-in is flagged;
- a CPU-time cap (``RLIMIT_CPU``, default 600 s) and a file-size cap (``RLIMIT_FSIZE``);

and bubblewrap gives the kernel:

- no network (``--unshare-net``: only a private loopback; the kernel talks to the grader over
  Unix sockets in a private runtime folder);
- a read-only view of the machine with ``solutions/``, ``tests/``, ``.git/`` and the whole of
  ``autograde/`` (gradebook, every hand-in, feedback) replaced by empty folders; only the
  notebook's own folder is visible again, read-only; ``/tmp`` is a private, empty tmpfs;
- no capabilities (also when grading as root), its own PID, IPC and UTS namespaces, a new
  session, and death with its parent.

When ``bwrap`` is missing or cannot create namespaces (some containers forbid it), the
grader falls back to running kernels with the resource limits only and prints a loud
warning (see autograde/README.md, "Sandbox").
"""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

KERNEL_NAME = "training-nn-grading"
DEFAULT_MEMORY_MB = 4096
DEFAULT_CPU_SECONDS = 600
DEFAULT_FILE_MB = 256

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


def hidden_paths(*roots: Path) -> list[str]:
    """Folders and files of each course root that a grading kernel must not read."""
    out = []
    for root in roots:
        root = Path(root).resolve()
        for name in ("solutions", "tests", ".git", "autograde", "benchmarks"):
            if (root / name).exists():
                out.append(str(root / name))
    return sorted(set(out))


def kept_paths() -> list[str]:
    """What the kernel needs to start: the environment and the course library.

    They are bound again (read-only) after the private ``/tmp`` is mounted, so that a
    course cloned under ``/tmp`` (as CI machines do) still has a working kernel.
    """
    here = Path(__file__).resolve().parent.parent
    return sorted({str(here), str(Path(sys.prefix).resolve())})


def write_kernelspec(
    dest: Path,
    *,
    roots: list[Path],
    memory_mb: int = DEFAULT_MEMORY_MB,
    cpu_seconds: int = DEFAULT_CPU_SECONDS,
    use_bwrap: bool | None = None,
) -> Path:
    """Write ``dest/kernels/<KERNEL_NAME>/kernel.json`` and its policy; return ``dest``.

    Put ``dest`` on ``JUPYTER_PATH`` and set ``Execute.kernel_name = KERNEL_NAME``.
    """
    if use_bwrap is None:
        use_bwrap = bwrap_available()
    kdir = Path(dest) / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    policy = {
        "bwrap": bool(use_bwrap),
        "hide": hidden_paths(*roots),
        "keep": kept_paths(),
        "memory_mb": int(memory_mb),
        "cpu_seconds": int(cpu_seconds),
        "file_mb": DEFAULT_FILE_MB,
    }
    (kdir / "policy.json").write_text(json.dumps(policy, indent=1))
    spec = {
        "argv": [sys.executable, "-m", "autograde.sandbox", str(kdir / "policy.json"), "--",
                 sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher",
                 "-f", "{connection_file}"],
        "display_name": "Python (training-nn, grading sandbox)",
        "language": "python",
        # The kernel runs in its own session: interrupt it with a message, not a signal.
        "interrupt_mode": "message",
        "env": {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return Path(dest)


def bwrap_command(policy: dict, cwd: str, runtime_dirs: list[str]) -> list[str]:
    cmd = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev",
           "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in policy.get("keep", []):  # under /tmp they were just covered
        if path.startswith("/tmp/"):
            cmd += ["--ro-bind", path, path]
    for d in runtime_dirs:  # connection file and the kernel's Unix sockets
        d = os.path.abspath(d)
        if d in ("/", "/tmp") or any(h.startswith(d.rstrip("/") + "/") for h in policy["hide"]):
            raise SystemExit(f"sandbox: refusing to share {d} with the kernel: it holds "
                             f"hidden paths; give the kernel a private runtime folder")
        cmd += ["--bind", d, d]
    for path in policy["hide"]:
        if os.path.isdir(path):
            cmd += ["--tmpfs", path]
        elif os.path.exists(path):
            cmd += ["--ro-bind", "/dev/null", path]
    for dev in sorted(glob.glob("/dev/nvidia*")):  # a GPU stays usable in the sandbox
        cmd += ["--dev-bind-try", dev, dev]
    if any(cwd == h or cwd.startswith(h + os.sep) for h in policy["hide"]):
        cmd += ["--ro-bind", cwd, cwd]  # the notebook's own folder, and nothing next to it
    # no capabilities, even when the grader runs as root: without CAP_SYS_ADMIN the kernel
    # cannot unmount the empty folders that hide solutions/ and the gradebook
    cmd += ["--cap-drop", "ALL"]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID",
            "--setenv", "HOME", "/tmp",
            "--setenv", "MPLCONFIGDIR", "/tmp", "--chdir", cwd]
    return cmd


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere).

    Grading workers and unsandboxed kernels use it, so that nothing of a run killed with
    ``kill -9`` goes on grading (bubblewrap's ``--die-with-parent`` does the same inside).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def set_limits(policy: dict) -> None:
    mem = policy["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = policy["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    fsize = policy["file_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def main(argv: list[str]) -> None:
    """``python -m autograde.sandbox POLICY -- COMMAND...``: exec COMMAND sandboxed."""
    policy_file, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: python -m autograde.sandbox POLICY -- COMMAND...")
    policy = json.loads(Path(policy_file).read_text())
    cwd = os.getcwd()
    runtime = []
    if "-f" in command:
        runtime.append(os.path.dirname(os.path.abspath(command[command.index("-f") + 1])))
    set_limits(policy)
    die_with_parent()  # kept across exec: the kernel (or bwrap) dies with its grading worker
    if policy["bwrap"]:
        full = bwrap_command(policy, cwd, runtime) + command
    else:
        full = command
    os.execvp(full[0], full)


def runtime_dir() -> str:
    """A private folder for kernels' connection files and Unix sockets."""
    return tempfile.mkdtemp(prefix="tnn-kernels-")


if __name__ == "__main__":
    main(sys.argv[1:])

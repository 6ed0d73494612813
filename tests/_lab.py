"""`make lab` started the way a student starts it, on a free port, for tests that talk to it."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

TOKEN = "course-lab-test"


@contextlib.contextmanager
def running_lab(cwd: Path, state: Path, env: dict, make_args: tuple[str, ...] = ()):
    """Run ``make lab`` in ``cwd`` until the block ends; yields the server's base URL.

    JupyterLab's settings, workspaces and notebook checkpoints live under ``state`` (the test's
    own folder), so a test never writes into the course or the user's JupyterLab state; the
    server's log is ``state / "lab.log"``.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(env, JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"))
    args = (f"--no-browser --port {port} --ServerApp.token={TOKEN} --ServerApp.ip=127.0.0.1 "
            f"--FileCheckpoints.checkpoint_dir={state / 'checkpoints'}")
    log_path = state / "lab.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["make", "--no-print-directory", "lab", *make_args,
                                 f"LAB_ARGS={args}"], cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    get_json(base, "/api/status")
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("make lab did not serve JupyterLab:\n"
                                             + log_path.read_text()[-3000:]) from None
                    time.sleep(0.5)
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def get_json(base: str, path: str):
    with urllib.request.urlopen(f"{base}{path}?token={TOKEN}", timeout=30) as response:
        return json.loads(response.read())

"""What the benchmarks share: a description of the machine, and virtualenvs that hold the peers we compare with."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["HUB285_REQUIREMENTS", "PeerInstallError", "hub285_env", "load_average", "machine", "peer_python"]

#: Where peer virtualenvs live (ignored by git); set ``HUB_BENCH_VENVS`` to share them between checkouts.
VENVS = Path(os.environ.get("HUB_BENCH_VENVS") or Path(__file__).resolve().parent / ".venvs")
#: The original Hub at its last 2.x release, with the numpy it was built for.
HUB285_REQUIREMENTS = ["hub==2.8.5", "numpy<2"]


class PeerInstallError(Exception):
    """A peer's virtualenv could not be made; the message says why."""


def _first_line(path: str, prefix: str) -> str:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _memory() -> str:
    total = _first_line("/proc/meminfo", "MemTotal")  # "24684096 kB"
    return f"{int(total.split()[0]) / 2**20:.1f} GiB" if total.endswith("kB") else total


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: above zero, other work shared the CPUs with the benchmark."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict[str, Any]:
    """CPUs, memory, CPU model, Python, OS, date and load: what a reader needs to weigh the numbers."""
    free = shutil.which("free")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory": _memory(),
        "free -g": subprocess.run([free, "-g"], capture_output=True, text=True).stdout.strip() if free else "",
        "cpu": _first_line("/proc/cpuinfo", "model name"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start": load_average(),
    }


def peer_python(name: str, requirements: Sequence[str]) -> Path:
    """The interpreter of ``.venvs/<name>``, a virtualenv holding ``requirements``, made on first use.

    A virtualenv made for other requirements is made anew; a lock file keeps two harnesses from making one at
    once. Raises :class:`PeerInstallError` if pip fails.
    """
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _make_venv(VENVS / name, requirements)


def _make_venv(venv: Path, requirements: Sequence[str]) -> Path:
    python = venv / "bin" / "python"
    marker = venv / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or ["(no message)"]
            raise PeerInstallError(f"{' '.join(step[2:5])} failed: {errors[-1]}")
    marker.write_text(wanted)
    return python


def peer_env() -> dict[str, str]:
    """This environment without what would make a peer's interpreter import our packages (``PYTHONPATH``)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def hub285_env(workdir: Path) -> dict[str, str]:
    """The environment to run hub 2.8.5 in without any network call: a home of its own under ``workdir``.

    At import hub 2.8.5 asks PyPI for its latest version unless it checked within a day, and reports usage with
    humbug unless consent was refused: the home holds a fresh version check and a refusal, and ``BUGGER_OFF``
    opts out of humbug as well.
    """
    home = workdir / "home-hub285" / ".activeloop"
    home.mkdir(parents=True, exist_ok=True)
    (home / "pypi_version.json").write_text(json.dumps(["2.8.5", time.time()]))
    (home / "reporting_config.json").write_text(json.dumps({"consent": False, "client_id": "benchmark"}))
    return {**peer_env(), "HOME": str(home.parent), "BUGGER_OFF": "true"}

"""The README's promises about set-up stay true: CI runs exactly its test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_ci_runs_the_readme_test_command() -> None:
    commands = _readme_commands()
    test_command = next(c for c in commands if "tests" in c)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_quickstart_command_names_a_nox_session() -> None:
    commands = _readme_commands()
    quickstart = next(c for c in commands if "quickstart" in c)
    session = quickstart.split("nox -s ")[1].split()[0]
    assert f"def {session}(" in (ROOT / "noxfile.py").read_text()
    assert (ROOT / "examples" / "quickstart.py").is_file()

"""Cross-cutting promises: import direction, documented settings, the CI entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from app.settings import Settings
from app.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_indexer_never_imports_the_service() -> None:
    modules = [p.stem for p in (ROOT / "indexer").glob("*.py") if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('indexer.' + name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'fastapi', 'starlette',"
        " 'pydantic_settings'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


def test_the_service_starts_without_what_only_builds_and_the_terminal_need(tmp_path: Path) -> None:
    """Each of these cost the start of ``deskmate serve`` a tenth of a second or more."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    Store(url).migrate()
    code = (
        "import sys\n"
        "import app.cli, app.main\n"
        "from app.store import Store\n"
        f"Store({url!r}).migrate()\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'alembic', 'rich', 'scipy', 'sentence_transformers', 'torch'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


def test_indexer_reads_no_environment() -> None:
    for path in (ROOT / "indexer").glob("*.py"):
        assert not re.search(r"os\.environ|getenv", path.read_text("utf-8")), path.name


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    missing = [f"DESKMATE_{name.upper()}" for name in Settings.model_fields
               if f"DESKMATE_{name.upper()}" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "make test" in readme and "make run" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_no_module_grows_past_the_style_limit() -> None:
    for package in ("app", "indexer"):
        for path in (ROOT / package).rglob("*.py"):
            assert len(path.read_text("utf-8").splitlines()) <= 450, path

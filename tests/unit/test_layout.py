"""The repository's shape: three importable packages, one-way dependencies, data folders."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "webhooks", "connectors")


@pytest.mark.parametrize("name", PACKAGES)
def test_top_level_package_resolves_inside_the_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    location = Path(module.__file__).resolve()
    assert location == REPO / name / "__init__.py"
    assert "site-packages" not in location.parts


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_import_scanner_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import hub\nimport os, connectors.x as c\nfrom hub.errors import E\n"
        "from . import sibling\n"
        "def f():\n    import hub.registry\n",
        encoding="utf-8",
    )
    assert imported_modules(sample) == {"hub", "os", "connectors.x", "hub.errors", "hub.registry"}


WEBHOOK_FILES = sorted((REPO / "webhooks").rglob("*.py"))


def test_webhooks_package_has_modules() -> None:
    assert WEBHOOK_FILES


@pytest.mark.parametrize("path", WEBHOOK_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_webhooks_imports_nothing_from_hub_or_connectors(path: Path) -> None:
    forbidden = sorted(
        name for name in imported_modules(path) if name.split(".")[0] in {"hub", "connectors"}
    )
    assert forbidden == []


def test_tests_folder_is_not_a_package() -> None:
    found = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("__init__.py"))
    assert found == []


def test_test_file_basenames_are_unique() -> None:
    names = [p.name for p in (REPO / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


@pytest.mark.parametrize("folder", ["config", "mappings"])
def test_data_folders_contain_no_python(folder: str) -> None:
    assert (REPO / folder).is_dir()
    found = sorted(str(p.relative_to(REPO)) for p in (REPO / folder).rglob("*.py"))
    assert found == []


def test_no_test_imports_from_a_conftest() -> None:
    """Several folders have a conftest.py; ``from conftest import`` picks whichever was
    imported first, so shared helpers live in importable modules instead."""
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("*.py")
        if any(
            line.startswith(("from conftest import", "import conftest"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []

"""The layering rule (CONTRIBUTING.md): pages -> gerec_app -> gerec, never backwards.

Read from the source with ``ast``: nothing in ``gerec`` imports ``gerec.cli`` (except the CLI
itself and ``python -m gerec``), ``gerec_app`` or streamlit; nothing in ``gerec_app`` imports
``gerec.cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violations(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(allowed):
            continue
        for name in sorted(imported_modules(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{rel} imports {name}")
    return out


def test_library_never_imports_the_cli_the_dashboard_or_streamlit() -> None:
    assert (
        _violations("gerec", ("gerec.cli", "gerec_app", "streamlit"), allowed=("gerec/cli/", "gerec/__main__.py")) == []
    )


def test_dashboard_helpers_never_import_the_cli() -> None:
    assert _violations("gerec_app", ("gerec.cli",)) == []


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from gerec.cli.common import progress\n    import streamlit as st\n")
    assert {"gerec.cli.common", "streamlit"} <= imported_modules(bad)


def files_with_string(text: str) -> list[str]:
    """The project's Python files (this one aside) with ``text`` as a string literal, comments aside."""
    out = []
    for path in sorted(ROOT.glob("*.py")) + sorted(
        p for d in ("gerec", "gerec_app", "app_pages", "tests", "tools", "benchmarks") for p in (ROOT / d).rglob("*.py")
    ):
        if path == Path(__file__).resolve():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(isinstance(node, ast.Constant) and node.value == text for node in ast.walk(tree)):
            out.append(path.relative_to(ROOT).as_posix())
    return out


def test_tensorflow_log_level_is_set_in_one_place() -> None:
    """``gerec.tf_quiet.quiet_logs`` (run when gerec is imported) is the one place; entry points import gerec."""
    assert files_with_string("TF_CPP_MIN_LOG_LEVEL") == ["gerec/tf_quiet.py"]
    assert "TF_CPP_MIN_LOG_LEVEL" not in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_registry_file_name_is_spelled_in_one_place() -> None:
    """``gerec.emotion.registry.REGISTRY_FILE`` (the HTML report spelled it again); tests name files of their own."""
    spelled = [path for path in files_with_string("ensemble.json") if not path.startswith("tests/")]
    assert spelled == ["gerec/emotion/registry.py"]

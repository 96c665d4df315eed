"""The repository's shape: no top folder is a package, Hugging Face `evaluate` is never shadowed, and the four
packages import each other only in the allowed directions."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftdata.cli import main as ftdata_main
from fteval.cli import main as fteval_main
from fttrain.cli import main as fttrain_main

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("folder", ["core", "curate", "train", "evaluate"])
def test_top_folders_are_not_packages(folder):
    assert not (REPO / folder / "__init__.py").exists()


def test_import_evaluate_from_repo_root_gives_hugging_face():
    # `python -c` puts the current directory first on sys.path, as `python -m pytest` and notebooks do.
    probe = "import evaluate, sys; print(evaluate.__file__); print(hasattr(evaluate, 'load'))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    path, has_load = result.stdout.split()
    assert "site-packages" in path and has_load == "True"


PACKAGES = {"ftcore": "core", "ftdata": "curate", "fttrain": "train", "fteval": "evaluate"}
# Which package may import which. The core imports no tool; every tool may import the core; across tools only the
# trainer's CLI calls the evaluator (its `evaluate:` hook). Nothing else: a trainer library that imported the
# evaluator, or an evaluator that imported the trainer, would make the two one tangle.
ALLOWED = {
    "ftcore": {"ftcore"},
    "ftdata": {"ftcore", "ftdata"},
    "fttrain": {"ftcore", "fttrain"},
    "fteval": {"ftcore", "fteval"},
}
ALLOWED_MODULES = {"fttrain.cli": {"fteval"}}


def module_name(path: Path, folder: Path) -> str:
    parts = path.relative_to(folder).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level name) of every import in a file, at any depth (inside functions too), absolute or through
    importlib.import_module("...")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value.split(".")[0]))
    return found


def import_violations(root: Path = REPO) -> list[str]:
    violations = []
    for package, folder in PACKAGES.items():
        for path in sorted((root / folder / package).rglob("*.py")):
            module = module_name(path, root / folder)
            allowed = ALLOWED[package] | ALLOWED_MODULES.get(module, set())
            for line, name in imported_packages(path):
                if name in PACKAGES and name not in allowed:
                    violations.append(f"{path.relative_to(root)}:{line}: {module} imports {name}")
    return violations


def test_imports_go_only_in_the_allowed_directions():
    assert import_violations() == []


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    # The check itself, on a small tree with planted imports: a function-level import of the evaluator in the
    # trainer's library, the core importing a tool through importlib, and the hook's one allowed crossing.
    planted = {
        "train/fttrain/run.py": "def hook():\n    from fteval.run import run_eval\n",
        "train/fttrain/cli.py": "import fteval.config\nfrom ftcore import Example\n",
        "core/ftcore/x.py": "import importlib\nimportlib.import_module('ftdata.lint')\n",
        "evaluate/fteval/__init__.py": "from fteval import run\n",
        "curate/ftdata/__init__.py": "",
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_violations(tmp_path) == [
        "core/ftcore/x.py:2: ftcore.x imports ftdata",
        "train/fttrain/run.py:2: fttrain.run imports fteval",
    ]


def _all_commands(group, prefix=()):
    yield prefix, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _all_commands(command, (*prefix, name))


@pytest.mark.parametrize("tool", [ftdata_main, fttrain_main, fteval_main], ids=["ftdata", "fttrain", "fteval"])
def test_every_command_has_help(tool):
    for path, command in _all_commands(tool):
        result = CliRunner().invoke(tool, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        assert command.help, f"{' '.join(path) or 'group'} has no help text"


@pytest.mark.parametrize("script", ["ftdata", "fttrain", "fteval"])
def test_console_scripts_installed(script):
    binary = Path(sys.executable).parent / script
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    assert script in result.stdout


def test_test_module_names_are_unique():
    # tests/ folders are not packages: two test files with one name make pytest refuse to collect the second.
    names = [path.name for path in (REPO / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)

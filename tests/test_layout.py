"""The repository's shape: no top folder is a package, and Hugging Face `evaluate` is never shadowed."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftdata.cli import main as ftdata_main
from fteval.cli import main as fteval_main
from fttrain.cli import main as fttrain_main

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("folder", ["curate", "train", "evaluate"])
def test_top_folders_are_not_packages(folder):
    assert not (REPO / folder / "__init__.py").exists()


def test_import_evaluate_from_repo_root_gives_hugging_face():
    # `python -c` puts the current directory first on sys.path, as `python -m pytest` and notebooks do.
    probe = "import evaluate, sys; print(evaluate.__file__); print(hasattr(evaluate, 'load'))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    path, has_load = result.stdout.split()
    assert "site-packages" in path and has_load == "True"


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

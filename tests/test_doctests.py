"""The `>>>` examples in ftkit's docstrings run, as doctests; an example that cannot run here (it needs a project,
a server, a model or a GPU) is written as plain indented code, without prompts, so it does not pass for one."""

import doctest
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("core", "curate", "train", "evaluate")
# The modules whose examples run: pure functions on values given in the example itself.
DOCTESTED = [
    "core/ftcore/__init__.py",
    "core/ftcore/example.py",
    "core/ftcore/jsonl.py",
    "core/ftcore/style/house.py",
    "core/ftcore/style/ifeval.py",
    "core/ftcore/style/json_checks.py",
    "core/ftcore/style/registry.py",
    "core/ftcore/text.py",
    "core/ftcore/training.py",
    "curate/ftdata/agreement.py",
    "curate/ftdata/draft.py",
    "curate/ftdata/duplicates.py",
    "curate/ftdata/guidelines.py",
    "curate/ftdata/lint.py",
    "curate/ftdata/origin.py",
    "curate/ftdata/pii.py",
    "curate/ftdata/stats.py",
    "evaluate/fteval/capability.py",
    "evaluate/fteval/compare.py",
    "evaluate/fteval/cost.py",
    "evaluate/fteval/ifeval.py",
    "evaluate/fteval/metrics/__init__.py",
    "evaluate/fteval/metrics/exact_match/exact_match.py",
    "evaluate/fteval/metrics/rouge_l/rouge_l.py",
    "evaluate/fteval/metrics/style_adherence/style_adherence.py",
    "evaluate/fteval/paired.py",
    "train/fttrain/distributed.py",
]
PROMPT = re.compile(r"^\s*>>>", re.MULTILINE)


def load(relative: str):
    """The module at a path under a package folder: imported by name, or by file for the `evaluate` metric scripts,
    which are loaded from their folder rather than imported."""
    path = REPO / relative
    parts = path.relative_to(REPO).with_suffix("").parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if "metrics" in parts and parts[-1] != "metrics":
        spec = importlib.util.spec_from_file_location("_".join(parts), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(".".join(parts))


def test_every_prompted_example_is_a_doctest_that_runs():
    prompted = sorted(
        str(path.relative_to(REPO))
        for folder in PACKAGE_FOLDERS
        for path in (REPO / folder).rglob("*.py")
        if PROMPT.search(path.read_text(encoding="utf-8"))
    )
    assert prompted == sorted(DOCTESTED), "a `>>>` example outside DOCTESTED: make it run here, or drop its prompts"


@pytest.mark.parametrize("relative", DOCTESTED)
def test_docstring_examples_run(relative, monkeypatch):
    monkeypatch.chdir(REPO)  # the metric examples load "evaluate/fteval/metrics/<name>", as from a checkout
    module = load(relative)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"{relative}: no example ran"
    assert results.failed == 0, "".join(report)

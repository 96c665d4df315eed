"""Projects and prompt files for the `ftdata draft` tests."""

import json
from pathlib import Path

import yaml

from ftdata.importers import ColumnMap, import_files
from ftdata.project import Project, init_project

REPO = Path(__file__).resolve().parents[2]
STYLE = REPO / "examples" / "quickstart" / "style.yaml"


def house_rows(gsm8k_rows, start, count):
    """GSM8K rows whose answers hold the house format (calculator notes, `#### n`)."""
    return [dict(r) for r in gsm8k_rows[start : start + 10 * count] if "<<" in r["answer"]][:count]


def drafting_project(root: Path, human_rows, *overrides: str, settings: dict | None = None) -> Project:
    """A project with the quickstart style spec, `human_rows` imported as the team's own examples, and `settings`
    (sections of ftdata.yaml, merged into what `ftdata init` wrote)."""
    init_project(root, dataset="draft-test", style=STYLE)
    if settings:
        config = yaml.safe_load((root / "ftdata.yaml").read_text(encoding="utf-8"))
        for section, values in settings.items():
            if isinstance(values, dict):
                config[section] = {**(config.get(section) or {}), **values}
            else:
                config[section] = values
        (root / "ftdata.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    project = Project.open(root, overrides)
    if human_rows:
        (root / "human.jsonl").write_text("".join(json.dumps(r) + "\n" for r in human_rows))
        import_files(project, [root / "human.jsonl"], mapping=ColumnMap.parse("user=question,assistant=answer"))
    return project


def write_prompts(path: Path, questions, **columns) -> Path:
    """A JSONL file of prompt-only rows: {"question": ..., <column>: <value or list of values>}."""
    rows = []
    for i, question in enumerate(questions):
        row = {"question": question}
        for name, values in columns.items():
            row[name] = values[i] if isinstance(values, list | tuple) else values
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def endpoint_settings(base_url: str, model: str, draft: dict | None = None, **keys) -> dict:
    """Settings with a `draft:` section for an endpoint (`keys`: more endpoint keys; `draft`: more draft keys)."""
    return {"draft": {"endpoint": {"base_url": base_url, "model": model, **keys}, **(draft or {})}}

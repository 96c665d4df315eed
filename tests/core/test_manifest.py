import json

import pytest

from ftcore import (
    MANIFEST_NAME,
    Example,
    ExportManifest,
    ManifestError,
    SplitFile,
    load_split,
    write_examples,
)


@pytest.fixture
def export_folder(tmp_path):
    splits = {}
    for name, n in (("train", 4), ("validation", 1), ("test", 2)):
        examples = [Example.from_prompt_completion(f"{name} question {i}", f"answer {i}") for i in range(n)]
        write_examples(tmp_path / f"{name}.jsonl", examples)
        splits[name] = SplitFile.describe(tmp_path, f"{name}.jsonl", n)
    manifest = ExportManifest(
        dataset="demo",
        splits=splits,
        source_snapshot="argilla:ftkit/demo@2026-11-28T00:00:00+00:00",
        guideline_version="0" * 64,
        seed=13,
        split_ratios={"train": 0.8, "validation": 0.1, "test": 0.1},
        tool_version="0.1.0",
    )
    manifest.write(tmp_path)
    return tmp_path, manifest


def test_round_trip_and_fingerprint(export_folder):
    folder, manifest = export_folder
    again = ExportManifest.read(folder)
    assert again == manifest and again.fingerprint == manifest.fingerprint
    assert again.counts() == {"train": 4, "validation": 1, "test": 2}
    assert len(again.fingerprint) == 64


def test_the_data_licence_is_recorded_and_a_manifest_without_one_keeps_its_fingerprint(export_folder):
    import dataclasses
    import hashlib

    folder, manifest = export_folder
    written = json.loads((folder / MANIFEST_NAME).read_text())
    assert "license" not in written and "origins" not in written  # as manifests were written before the fields
    canonical = json.dumps(written, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert manifest.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()
    licensed = dataclasses.replace(manifest, license="cc-by-4.0")
    licensed.write(folder)
    assert ExportManifest.read(folder).license == "cc-by-4.0" and licensed.fingerprint != manifest.fingerprint
    drafted = dataclasses.replace(manifest, origins={"human-written": 5, "drafted-corrected": 2})
    assert drafted.fingerprint not in (manifest.fingerprint, licensed.fingerprint)
    (folder / MANIFEST_NAME).write_text(json.dumps({**written, "license": 4}))
    with pytest.raises(ManifestError, match="license: must be a string"):
        ExportManifest.read(folder)


def test_load_split_checks_hash(export_folder):
    folder, _ = export_folder
    assert len(load_split(folder, "train")) == 4
    with (folder / "train.jsonl").open("a") as handle:
        handle.write(json.dumps(Example.from_prompt_completion("sneaked", "in").to_dict()) + "\n")
    with pytest.raises(ManifestError, match="differs from the manifest"):
        load_split(folder, "train")


def test_unknown_split_and_missing_file(export_folder):
    folder, _ = export_folder
    with pytest.raises(ManifestError, match="no split 'dev'"):
        load_split(folder, "dev")
    (folder / "test.jsonl").unlink()
    with pytest.raises(ManifestError, match="missing"):
        load_split(folder, "test")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(colour="blue"), "colour: unknown field"),
        (lambda m: m.pop("seed"), "seed: missing"),
        (lambda m: m.update(seed="13"), "seed: must be an integer"),
        (lambda m: m["splits"]["train"].update(sha="x"), "splits.train.sha: unknown field"),
        (lambda m: m.update(format_version=99), "newer than this ftkit reads"),
    ],
)
def test_malformed_manifest_names_file_and_field(export_folder, edit, message):
    folder, _ = export_folder
    raw = json.loads((folder / MANIFEST_NAME).read_text())
    edit(raw)
    (folder / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match=message) as raised:
        ExportManifest.read(folder)
    assert str(folder / MANIFEST_NAME) in str(raised.value)


def test_not_an_export_folder(tmp_path):
    with pytest.raises(ManifestError, match=r"is .* an `ftdata export` folder"):
        ExportManifest.read(tmp_path)

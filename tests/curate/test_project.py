import re

import pytest

from ftcore.config import ConfigError
from ftdata.project import Project, ProjectConfig, init_project


def test_init_writes_a_commented_config_that_loads(tmp_path):
    path = init_project(tmp_path, dataset="support tone: v2")
    text = path.read_text()
    assert text.count("# ") >= 15  # every setting explained
    project = Project.open(tmp_path)
    assert project.config.dataset == "support tone: v2"
    assert project.config.lint == ProjectConfig().lint
    assert project.store_path == tmp_path / ".ftdata" / "store"


def test_init_refuses_to_overwrite(tmp_path):
    init_project(tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        init_project(tmp_path)
    init_project(tmp_path, force=True)


def test_no_project_here(tmp_path):
    with pytest.raises(ConfigError, match="no project here: run `ftdata init`"):
        Project.open(tmp_path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("split.ratios={train: 0.5, test: 0.2}", "add up to 1"),
        ("lint.near_duplicate_threshold=1.5", r"near_duplicate_threshold must be in \(0, 1\]"),
        ("lint.min_examples_error=900", "must not exceed"),
    ],
)
def test_invalid_values_are_errors(tmp_path, override, message):
    init_project(tmp_path)
    with pytest.raises(ConfigError, match=message) as raised:
        Project.open(tmp_path, (override,))
    assert "ftdata.yaml" in str(raised.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("id_column=source", "id_column: 'source' is empty or one of ftdata's own metadata"),
        ("review.metadata_columns=[channel, lint_flags]", "metadata_columns: 'lint_flags' is empty or one of"),
        ("store_history=0", "store_history must be at least 1"),
        ("lint.phone_regions=[ZZ]", "phone_regions: 'ZZ' is not a region phonenumbers knows"),
    ],
)
def test_the_new_settings_are_checked(tmp_path, override, message):
    init_project(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        Project.open(tmp_path, (override,))

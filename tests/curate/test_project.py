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


def test_init_no_longer_writes_the_unread_vectors_model(tmp_path):
    text = init_project(tmp_path).read_text()
    assert "vectors_model" not in text and "review:" in text


def test_a_project_file_from_an_earlier_init_still_loads(tmp_path):
    """Earlier `ftdata init`s wrote `review.vectors_model: null`; nothing read it, and such a file still loads."""
    path = init_project(tmp_path)
    path.write_text(path.read_text().replace("review:\n", "review:\n  vectors_model: null\n"))
    assert Project.open(tmp_path).config.review == ProjectConfig().review


def test_a_set_vectors_model_is_refused_with_the_reason(tmp_path):
    path = init_project(tmp_path)
    path.write_text(path.read_text().replace("review:\n", "review:\n  vectors_model: models/minilm\n"))
    with pytest.raises(ConfigError) as raised:
        Project.open(tmp_path)
    assert str(raised.value) == (
        f"{path}: review.vectors_model: no longer a setting (nothing read it: Argilla got no vectors): delete it"
    )
    init_project(tmp_path, force=True)
    with pytest.raises(ConfigError, match=r"review\.vectors_model: no longer a setting"):
        Project.open(tmp_path, ("review.vectors_model=models/minilm",))

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


def write_project(root, ftdata_yaml: str, train_yaml: str | None = None):
    (root / "ftdata.yaml").write_text(ftdata_yaml)
    if train_yaml is not None:
        (root / "train.yaml").write_text(train_yaml)
    return root


TRAIN = "base_model: {path: models/m, gguf_file: m.gguf}\nmax_seq_len: 320\nepochs: 2\ngpu_usd_per_hour: 1.5\n"


def test_settings_shared_with_training_are_read_from_the_train_config(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)  # a local folder: relative to train.yaml, as fttrain reads it
    write_project(tmp_path, "dataset: d\ntrain_config: train.yaml\n", TRAIN)
    config = Project.open(tmp_path).config
    assert config.lint.max_seq_len == 320 and config.cost.epochs == 2
    assert config.lint.tokenizer.path == str(tmp_path / "models" / "m") and config.lint.tokenizer.gguf_file == "m.gguf"
    assert config.cost.gpu_usd_per_hour == 1.5
    assert config.cost.gpu_tokens_per_second == 2500.0  # not stated in train.yaml: fttrain's default, as plan uses
    # A command-line override still wins, `null` included (no length check).
    overridden = Project.open(tmp_path, ("lint.max_seq_len=4096", "lint.tokenizer=null")).config
    assert overridden.lint.max_seq_len == 4096 and overridden.lint.tokenizer is None and overridden.cost.epochs == 2


@pytest.mark.parametrize(
    ("stated", "key", "train_key"),
    [
        ("lint: {max_seq_len: 512}", "lint.max_seq_len", "max_seq_len"),
        ("lint: {tokenizer: models/m}", "lint.tokenizer", "base_model"),
        ("cost: {gpu_usd_per_hour: 2.0}", "cost.gpu_usd_per_hour", "gpu_usd_per_hour"),
        ("cost: {epochs: 3}", "cost.epochs", "epochs"),
    ],
)
def test_a_setting_stated_in_both_files_is_an_error(tmp_path, stated, key, train_key):
    write_project(tmp_path, f"dataset: d\ntrain_config: train.yaml\n{stated}\n", TRAIN)
    with pytest.raises(ConfigError) as raised:
        Project.open(tmp_path)
    train = tmp_path / "train.yaml"
    assert str(raised.value) == (
        f"{tmp_path / 'ftdata.yaml'}: {key}: stated here and as {train_key} in train_config {train}: "
        f"state it once, in {train}"
    )


def test_without_a_train_config_the_project_states_them_or_takes_fttrains_defaults(tmp_path):
    write_project(tmp_path, "dataset: d\nlint: {max_seq_len: 512}\ncost: {gpu_usd_per_hour: 3.0}\n")
    config = Project.open(tmp_path).config
    assert config.lint.seq_len == 512 and config.cost.value("gpu_usd_per_hour") == 3.0
    assert config.cost.value("epochs") == 3.0 and config.lint.tokenizer is None
    write_project(tmp_path, "dataset: d\n")
    assert Project.open(tmp_path).config.lint.seq_len == 1024  # fttrain's default max_seq_len
    write_project(tmp_path, "dataset: d\ntrain_config: missing.yaml\n")
    with pytest.raises(ConfigError, match=r"missing\.yaml: not found"):
        Project.open(tmp_path)


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

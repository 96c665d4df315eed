"""The settings training shares with curation, read from a train config, and the one cost estimate."""

import pytest

from ftcore.config import ConfigError
from ftcore.models import BaseModel
from ftcore.training import TrainingTarget, estimate_cost, load_training_target


def test_estimate_by_hand():
    # 1.2M tokens an epoch, 2.5 epochs = 3M tokens; at 2,500 tokens/s that is 1,200 s = 1/3 h; at $1.80/h, $0.60.
    cost = estimate_cost(1_200_000, 2.5, 2500, 1.8, {"hosted": 25.0})
    assert cost.training_tokens == 3_000_000
    assert cost.gpu_hours == pytest.approx(1 / 3) and cost.gpu_usd == pytest.approx(0.6)
    assert cost.hosted_usd == {"hosted": pytest.approx(75.0)}  # 3M tokens at $25 per million


def test_the_shared_settings_of_a_train_config(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)
    path = tmp_path / "train.yaml"
    path.write_text("base_model: models/m\nmax_seq_len: 320\nlearning_rate: 0.1\nlora: {r: 4}\n")
    target = load_training_target(path)  # fttrain's own keys are fttrain's to check
    assert target == TrainingTarget(BaseModel(str(tmp_path / "models" / "m")), max_seq_len=320)
    path.write_text("base_model: org/name\n")
    assert load_training_target(path).base_model.path == "org/name"  # a hub id stays as written


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_seq_len: 320\n", "base_model: required"),
        ("base_model: m\nmax_seq_len: 8\n", "max_seq_len must be at least 16"),
        ("base_model: m\ngpu_tokens_per_second: 0\n", "gpu_tokens_per_second must be positive"),
        ("base_model: m\ngguf_file: m.gguf\n", "gguf_file: moved to base_model.gguf_file"),
    ],
)
def test_bad_shared_settings_name_the_train_config(tmp_path, text, message):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as raised:
        load_training_target(path)
    assert str(raised.value).startswith(str(path))

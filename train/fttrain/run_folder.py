"""A run folder as fttrain reads and writes it: the core's `RunFolder` (summary, export, base model) plus the
typed train config it was resolved to.

Usage:
    run = RunFolder.open("runs/latest")
    run.config.lora.r, run.summary.steps, run.data.fingerprint
"""

from __future__ import annotations

from dataclasses import dataclass

from ftcore import run_folder
from ftcore.config import build, write_config
from ftcore.run_folder import RESOLVED_CONFIG
from fttrain.config import TrainConfig


@dataclass
class RunFolder(run_folder.RunFolder):
    @property
    def config(self) -> TrainConfig:
        """fttrain.resolved.yaml as the train config it was written from (unknown keys and wrong types named);
        one written by an older ftkit is read in today's shape."""
        return build(TrainConfig, self.resolved, str(self.file(RESOLVED_CONFIG)))

    def write_config(self, config: TrainConfig) -> None:
        write_config(config, self.file(RESOLVED_CONFIG))

"""fteval: scores style/format adherence of a fine-tuned model against its baselines.

It reads test data only through the shared contract (`ftcore.load_split`, `ftcore.ExportManifest`).
"""

from ftcore import __version__

__all__ = ["__version__"]

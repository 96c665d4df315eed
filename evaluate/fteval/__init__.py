"""fteval: scores style/format adherence of a fine-tuned model against its baselines.

It reads test data only through the ftdata contract (`ftdata.load_split`, `ftdata.ExportManifest`).
"""

from ftdata import __version__

__all__ = ["__version__"]

"""fttrain: a thin QLoRA trainer that consumes exactly what `ftdata export` wrote.

It reads data only through the ftdata contract (`ftdata.load_split`, `ftdata.ExportManifest`).
"""

from ftdata import __version__

__all__ = ["__version__"]

"""fttrain: a thin QLoRA trainer that consumes exactly what `ftdata export` wrote.

It reads data only through the shared contract (`ftcore.load_split`, `ftcore.ExportManifest`).
"""

from ftcore import __version__

__all__ = ["__version__"]

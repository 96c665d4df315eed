"""Which versions made a result: every record ftkit writes (a run's environment.json, results.json) says so.

Usage:
    package_versions("ftkit", "torch", "transformers")
    # -> {'ftkit': '0.1.0', 'torch': '2.13.0', 'transformers': '5.1.0'}
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_versions(*names: str) -> dict[str, str | None]:
    """The installed version of each distribution, None for one that is not installed; ftkit's own is
    `ftcore.__version__` (0+unknown in a source tree that was never installed), as export manifests record it."""
    from ftcore import __version__

    found: dict[str, str | None] = {}
    for name in names:
        if name == "ftkit":
            found[name] = __version__
            continue
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found

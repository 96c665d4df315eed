"""ftdata: curation for ftkit: import, lint, review in Argilla, export.

The contract (`Example`, `read_examples`/`write_examples`, `ExportManifest`, `load_split`) lives in
`ftcore`, which all three tools share; it is re-exported here, so `from ftdata import Example,
load_split` keeps working.
"""

from ftcore import (
    MANIFEST_NAME,
    ROLES,
    Example,
    ExampleFileError,
    ExportManifest,
    FtdataError,
    ManifestError,
    Message,
    Problem,
    SplitFile,
    __version__,
    load_split,
    read_examples,
    write_examples,
)

__all__ = [
    "MANIFEST_NAME",
    "ROLES",
    "Example",
    "ExampleFileError",
    "ExportManifest",
    "FtdataError",
    "ManifestError",
    "Message",
    "Problem",
    "SplitFile",
    "__version__",
    "load_split",
    "read_examples",
    "write_examples",
]

"""ftdata: curation for ftkit, and home of the contract every stage shares.

The contract is the example record (`Example`), its JSONL reader/writer, and the export manifest
(`ExportManifest`). fttrain and fteval import these; ftdata imports neither of them.

>>> from ftdata import Example
>>> ex = Example.create([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}])
>>> ex.id
'ex_...'
"""

from importlib.metadata import PackageNotFoundError, version

from ftdata.errors import ExampleFileError, FtdataError, ManifestError, Problem
from ftdata.example import ROLES, Example, Message
from ftdata.jsonl import read_examples, write_examples
from ftdata.manifest import MANIFEST_NAME, ExportManifest, SplitFile, load_split

try:
    __version__ = version("ftkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

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

"""The one package-versions helper that run records and results use."""

import yaml

import ftcore
from ftcore.versions import package_versions


def test_versions_installed_missing_and_ftkit():
    found = package_versions("pyyaml", "no-such-distribution-ftkit", "ftkit")
    assert found == {"pyyaml": yaml.__version__, "no-such-distribution-ftkit": None, "ftkit": ftcore.__version__}

"""Builds the wheel with compiled translations: the .mo files are not in git (pyproject.toml
holds everything else)."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    """Copies the package as usual, then compiles each copied .po catalogue next to itself."""

    def run(self):
        super().run()
        for po in Path(self.build_lib, "referral", "translations").glob("*/LC_MESSAGES/*.po"):
            with po.open("rb") as source:
                catalogue = read_po(source)
            with po.with_suffix(".mo").open("wb") as compiled:
                write_mo(compiled, catalogue)


setup(cmdclass={"build_py": BuildWithCatalogues})

"""Map the top-level layers (domain/, api/, ...) onto the ``paulp.*`` namespace.

The design card keeps layers at the repository root but installs them as
``paulp.domain`` etc. so generic names never collide in site-packages.
"""

from pathlib import Path

from setuptools import setup

LAYERS = ("domain", "projections", "adapters", "api", "migrations")
ROOT = Path(__file__).parent

packages: list[str] = []
package_dir: dict[str, str] = {}
for layer in LAYERS:
    for init in sorted((ROOT / layer).rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT)
        name = "paulp." + ".".join(rel.parts)
        packages.append(name)
        package_dir[name] = rel.as_posix()

setup(packages=packages, package_dir=package_dir)

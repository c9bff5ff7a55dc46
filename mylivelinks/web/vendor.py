"""`make web-vendor`: third-party browser code from the npm registry, as vendor.json records.

Each entry names a package, its exact version and licence, the file the client imports and
where it goes. `npm pack` fetches the tarball (checking the registry's integrity hash); the
package's own package.json must state the recorded version and licence.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR_FILE = Path(__file__).with_name("vendor.json")
ROOT = Path(__file__).resolve().parent.parent.parent


def install(name: str, record: dict[str, str], workdir: Path) -> Path:
    """Fetch `name` at its recorded version and put its file where the client loads it."""
    subprocess.run(
        ["npm", "pack", f"{name}@{record['version']}", "--pack-destination", str(workdir)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (tarball,) = workdir.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    package = json.loads((workdir / "package" / "package.json").read_text())
    if (package["version"], package.get("license")) != (record["version"], record["license"]):
        raise SystemExit(f"{name}: got {package['version']} ({package.get('license')})")
    target = ROOT / record["installed_as"]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(workdir / "package" / record["file"], target)
    return target


def main() -> int:
    """Install every package vendor.json lists."""
    for name, record in json.loads(VENDOR_FILE.read_text()).items():
        with tempfile.TemporaryDirectory() as workdir:
            target = install(name, record, Path(workdir))
        print(f"{name} {record['version']} ({record['license']}) -> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

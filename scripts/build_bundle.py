#!/usr/bin/env python3
"""Build dcmtui for servers without network: one file, and a wheelhouse.

``python scripts/build_bundle.py`` writes into ``dist/``:

- ``dcmtui.pyz``: a zip application holding dcmtui and every pure-Python
  package it needs (textual, rich, pydicom, pynetdicom, platformdirs, tomlkit
  and what they require), taken from the environment this script runs in.
  Copy it to a server with Python 3.11+ and run ``python3 dcmtui.pyz``. On
  its first run it unpacks itself once into a versioned folder of the user's
  cache (``$DCMTUI_CACHE_DIR``, or platformdirs' user cache dir, e.g.
  ``~/.cache/dcmtui/bundle/``), because Textual reads its CSS files and
  pydicom its sample files by path; later runs start from there at once.
- ``dcmtui-wheelhouse-VERSION.tar.gz``: wheels of dcmtui and all its
  dependencies (compiled ones such as numpy included, for this Python version
  and machine), for ``pip install --no-index --find-links`` (skip it with
  ``--no-wheelhouse``). Nothing is downloaded: the wheels are packed from
  what is installed here.

Compiled packages (numpy, image codecs) are not in dcmtui.pyz: the features
that need them (image preview, conversion) name the missing package, and work
when the server's Python has it (e.g. ``apt-get install python3-numpy``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata as metadata
import os
import re
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
COMPILED = (".so", ".pyd", ".dylib", ".dll")
SKIP_SUFFIXES = (".pyc", ".pyo", ".exe")
SKIP_DIST_INFO = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
"""Fixed entry times: the same inputs give the same bundle."""

BOOTSTRAP = '''\
"""dcmtui as one file: unpack once into the user's cache, then run from there."""

import os
import shutil
import sys
import tempfile
import zipfile

VERSION = {version!r}
BUNDLE_ID = {bundle_id!r}
OPTIONAL = {{
    "numpy": "numpy",
    "PIL": "pillow",
    "pylibjpeg": "pylibjpeg",
    "openjpeg": "pylibjpeg-openjpeg",
    "libjpeg": "pylibjpeg-libjpeg",
    "rle": "pylibjpeg-rle",
    "jpeg_ls": "pyjpegls",
    "gdcm": "python-gdcm",
}}
"""Compiled packages some features use; named when they are missing."""


def _fail(message):
    print("dcmtui: error: " + message, file=sys.stderr)
    raise SystemExit(1)


def _archive():
    return os.path.abspath(os.path.dirname(__file__))


def _cache_root(archive):
    chosen = os.environ.get("DCMTUI_CACHE_DIR")
    if chosen:
        return os.path.join(os.path.abspath(chosen), "bundle")
    inside = os.path.join(archive, "lib")
    sys.path.insert(0, inside)
    try:
        import platformdirs

        return os.path.join(platformdirs.user_cache_dir("dcmtui"), "bundle")
    finally:
        sys.path.remove(inside)
        for name in [m for m in sys.modules if m.split(".")[0] == "platformdirs"]:
            del sys.modules[name]


def _unpack(archive, root):
    target = os.path.join(root, VERSION + "-" + BUNDLE_ID)
    if os.path.exists(os.path.join(target, ".complete")):
        return target
    try:
        os.makedirs(root, exist_ok=True)
        work = tempfile.mkdtemp(prefix=".unpack-", dir=root)
    except OSError as exc:
        _fail(
            "cannot unpack the bundle into %s: %s; set DCMTUI_CACHE_DIR to a "
            "writable folder" % (root, exc.strerror or exc)
        )
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.filename.startswith("lib/") and not info.is_dir():
                    zf.extract(info, work)
        open(os.path.join(work, "lib", ".complete"), "w").close()
        try:
            os.rename(os.path.join(work, "lib"), target)
        except OSError:
            if not os.path.exists(os.path.join(target, ".complete")):
                raise
    except OSError as exc:
        _fail(
            "cannot unpack the bundle into %s: %s; set DCMTUI_CACHE_DIR to a "
            "writable folder" % (root, exc.strerror or exc)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def run():
    if sys.version_info < (3, 11):
        found = "%d.%d" % sys.version_info[:2]
        _fail("dcmtui needs Python 3.11 or newer (this is " + found + ")")
    archive = _archive()
    if not zipfile.is_zipfile(archive):
        _fail("run the bundle file itself: python3 dcmtui.pyz")
    sys.path.insert(0, _unpack(archive, _cache_root(archive)))
    try:
        from {entry_module} import {entry_function} as entry

        code = entry()  # the console script's own function (it may exit itself)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in OPTIONAL:
            raise
        _fail(
            "this needs %s, a compiled package the single-file bundle does not "
            "hold; install it for this Python (e.g. apt-get install python3-%s, "
            "or pip install %s) and run the bundle again"
            % (OPTIONAL[top], top, OPTIONAL[top])
        )
    raise SystemExit(code)


run()
'''


def _requirements(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    """The requirements of ``dist`` that apply here, with ``extras`` asked for."""
    env = default_environment()
    found = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None:
            found.append(req)
            continue
        wanted = extras or {""}
        if any(req.marker.evaluate({**env, "extra": e}) for e in wanted):  # type: ignore[dict-item]
            found.append(req)
    return found


class NotInstalled(Exception):
    """A distribution the bundle needs is not installed (or not in its range)."""


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())[
        "project"
    ]
    return project


def entry_point() -> tuple[str, str]:
    """(module, function) of the ``dcmtui`` console script in pyproject.toml."""
    target = _project().get("scripts", {}).get("dcmtui", "")
    module, _, function = target.partition(":")
    if not module or not function.isidentifier():
        sys.exit("build_bundle: no 'dcmtui = module:function' in [project.scripts]")
    return module, function


def closure(groups: tuple[str, ...] = ()) -> list[metadata.Distribution]:
    """The installed distributions dcmtui needs, dependencies first-come.

    Args:
        groups: Optional-dependency groups of pyproject.toml to include too.

    Raises:
        NotInstalled: A distribution is missing or outside its version range.
    """
    project = _project()
    texts = [*project["dependencies"]]
    for group in groups:
        texts += project["optional-dependencies"][group]
    todo = [Requirement(text) for text in texts]
    seen: dict[str, metadata.Distribution] = {}
    wanted_extras: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        extras = set(req.extras)
        if key in seen and extras <= wanted_extras[key]:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise NotInstalled(f"{req.name} is required but not installed") from None
        if not req.specifier.contains(dist.version, prereleases=True):
            raise NotInstalled(f"{req} is required, {dist.version} is installed")
        seen[key] = dist
        wanted_extras[key] = wanted_extras.get(key, set()) | extras
        todo.extend(_requirements(dist, wanted_extras[key]))
    return [seen[k] for k in sorted(seen)]


def _files_of(dist: metadata.Distribution) -> list[tuple[str, Path]]:
    """(name in the bundle, file on disk) for every file a distribution installed."""
    out = []
    for f in dist.files or []:
        name = f.as_posix()
        if name.startswith("..") or "__pycache__" in f.parts:
            continue
        if f.parts[0].endswith(".dist-info") and f.name in SKIP_DIST_INFO:
            continue
        if name.endswith(SKIP_SUFFIXES):
            continue
        out.append((name, Path(str(dist.locate_file(f)))))
    return out


def is_compiled(dist: metadata.Distribution) -> bool:
    """True when a distribution holds compiled code (numpy, codecs)."""
    return any(f.name.endswith(COMPILED) or ".so." in f.name for f in dist.files or [])


def _own_files() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((REPO / "dcmtui").rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        out.append((path.relative_to(REPO).as_posix(), path))
    return out


def version() -> str:
    """dcmtui's version, read from the source without importing it."""
    for line in (REPO / "dcmtui" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    sys.exit("build_bundle: no __version__ in dcmtui/__init__.py")


def build_pyz(out: Path) -> Path:
    """Write ``out/dcmtui.pyz`` and return its path."""
    files = _own_files()
    names, left_out = [], []
    for dist in closure():
        if is_compiled(dist):
            left_out.append(f"{dist.metadata['Name']} {dist.version} (compiled)")
            continue
        names.append(f"{dist.metadata['Name']} {dist.version}")
        files.extend(_files_of(dist))
    files.sort()
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    bundle_id = digest.hexdigest()[:16]
    ver = version()
    out.mkdir(parents=True, exist_ok=True)
    target = out / "dcmtui.pyz"
    tmp = out / ".dcmtui.pyz.tmp"
    with tmp.open("wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            module, function = entry_point()
            main = BOOTSTRAP.format(
                version=ver,
                bundle_id=bundle_id,
                entry_module=module,
                entry_function=function,
            )
            zf.writestr(zipfile.ZipInfo("__main__.py", ZIP_TIME), main)
            listing = "\n".join(["dcmtui " + ver, *names]) + "\n"
            if left_out:
                listing += "\nnot bundled:\n" + "\n".join(left_out) + "\n"
            zf.writestr(zipfile.ZipInfo("BUNDLED.txt", ZIP_TIME), listing)
            for name, path in files:
                info = zipfile.ZipInfo("lib/" + name, ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, path.read_bytes())
    tmp.chmod(0o755)
    os.replace(tmp, target)
    return target


def _wheel_name(name: str, ver: str, tag: str = "py3-none-any") -> str:
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{ver}-{tag}.whl"


def _write_wheel(target: Path, dist_info: str, files: list[tuple[str, bytes]]) -> None:
    """A wheel: the files, then a RECORD of them (PEP 427)."""
    record = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files):
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, zipfile.ZIP_DEFLATED)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
            record.append(f"{name},sha256={digest.rstrip(b'=').decode()},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        zf.writestr(
            zipfile.ZipInfo(f"{dist_info}/RECORD", ZIP_TIME),
            "\n".join(record) + "\n",
            zipfile.ZIP_DEFLATED,
        )


def _own_wheel(folder: Path) -> Path:
    """dcmtui's wheel, from the source tree and pyproject.toml."""
    project = _project()
    ver = version()
    dist_info = f"dcmtui-{ver}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        "Name: dcmtui",
        f"Version: {ver}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Requires-Dist: {d}" for d in project["dependencies"]),
    ]
    for extra, wanted in project.get("optional-dependencies", {}).items():
        meta.append(f"Provides-Extra: {extra}")
        for text in wanted:
            req = Requirement(text)
            marker = f'extra == "{extra}"'
            if req.marker is not None:
                marker = f"({req.marker}) and {marker}"
                req.marker = None
            meta.append(f"Requires-Dist: {req}; {marker}")
    module, function = entry_point()
    files = [(name, path.read_bytes()) for name, path in _own_files()]
    files += [
        (f"{dist_info}/METADATA", ("\n".join(meta) + "\n").encode()),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: dcmtui build_bundle\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (
            f"{dist_info}/entry_points.txt",
            f"[console_scripts]\ndcmtui = {module}:{function}\n".encode(),
        ),
    ]
    target = folder / _wheel_name("dcmtui", ver)
    _write_wheel(target, dist_info, files)
    return target


def _repacked_wheel(dist: metadata.Distribution, folder: Path) -> Path:
    """An installed distribution packed back into its wheel, with its own tags."""
    files = _files_of(dist)
    dist_info = next(n.split("/")[0] for n, _ in files if ".dist-info/" in n)
    tags = [t.split()[0] for t in (dist.read_text("WHEEL") or "").split("Tag:")[1:]]
    if not tags:
        sys.exit(f"build_bundle: {dist.metadata['Name']} has no wheel tags")
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    tag = "-".join(".".join(p) for p in parts)
    target = folder / _wheel_name(dist.metadata["Name"], dist.version, tag)
    _write_wheel(target, dist_info, [(n, p.read_bytes()) for n, p in files])
    return target


USER_EXTRAS = ("codecs", "graphics")
"""The optional-dependency groups a user installs (``test`` is for us)."""


def build_wheelhouse(out: Path) -> Path:
    """Write ``out/dcmtui-wheelhouse-VERSION.tar.gz``.

    The wheels are the installed distributions dcmtui needs, packed back into
    wheels with their own tags (compiled ones, such as numpy, fit only the
    Python version and machine of the build), plus dcmtui's own: no network
    is needed to build it, and it holds the same versions as the bundle.
    The extras (``codecs``, ``graphics``) are in it when everything they
    need is installed here, so that ``dcmtui[codecs]`` installs offline too.
    """
    ver = version()
    name = f"dcmtui-wheelhouse-{ver}"
    dists = {canonicalize_name(d.metadata["Name"]): d for d in closure()}
    extras, missing = [], []
    for extra in USER_EXTRAS:
        try:
            needed = closure((extra,))
        except NotInstalled as exc:
            missing.append(f"  dcmtui[{extra}]: {exc}\n")
            continue
        extras.append(extra)
        dists.update((canonicalize_name(d.metadata["Name"]), d) for d in needed)
    with tempfile.TemporaryDirectory() as work:
        wheels = Path(work) / name
        wheels.mkdir()
        _own_wheel(wheels)
        compiled = []
        for key in sorted(dists):
            wheel = _repacked_wheel(dists[key], wheels)
            if is_compiled(dists[key]):
                compiled.append(wheel.name)
        readme = (
            f"dcmtui {ver}: wheels for a server without network.\n\n"
            f"  tar xzf {name}.tar.gz\n"
            f"  python3 -m venv dcmtui-env\n"
            f"  dcmtui-env/bin/pip install --no-index --find-links {name} dcmtui\n"
            f"  dcmtui-env/bin/dcmtui --version\n"
        )
        if extras:
            readme += (
                "\nWith the optional extras (image codecs, terminal graphics):\n"
                f"  dcmtui-env/bin/pip install --no-index --find-links {name} "
                f"'dcmtui[{','.join(extras)}]'\n"
            )
        if missing:
            readme += (
                "\nNot in this wheelhouse (not installed where it was built):\n"
                + "".join(missing)
            )
        if compiled:
            readme += (
                "\nThese wheels hold compiled code, for the Python version and\n"
                "machine they were built on; the server needs the same:\n"
                + "".join(f"  {name}\n" for name in compiled)
            )
        (wheels / "INSTALL.txt").write_text(readme)
        target = out / f"{name}.tar.gz"
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, mode="w:gz") as tar:
            for path in sorted(wheels.iterdir()):
                tar.add(path, arcname=f"{name}/{path.name}")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line of the script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-o", "--out", type=Path, default=REPO / "dist", help="output folder"
    )
    parser.add_argument(
        "--no-wheelhouse", action="store_true", help="build only dcmtui.pyz"
    )
    args = parser.parse_args(argv)
    try:
        pyz = build_pyz(args.out)
        print(f"{pyz} ({pyz.stat().st_size / 1e6:.1f} MB)")
        if not args.no_wheelhouse:
            house = build_wheelhouse(args.out)
            print(f"{house} ({house.stat().st_size / 1e6:.1f} MB)")
    except NotInstalled as exc:
        print(f"build_bundle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

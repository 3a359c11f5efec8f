"""Build Marquee's one-folder bundle with PyInstaller, check it, and package it.

    python packaging/build.py [--skip-archive] [--self-test] [--skip-build] [--skip-deb]
    python3 dev.py build [same options]      (sets up .venv with PyInstaller first)

Gives dist/Marquee/ (dist/Marquee.app on macOS), dist/Marquee-<version>-<platform>.tar.gz
(.zip on Windows) and, on Linux with dpkg-deb, dist/marquee_<version>_<arch>.deb
(packaging/deb.py). --self-test runs the frozen `Marquee --self-test` and times the frozen
GUI's first paint. Numbers are printed and written to dist/build-report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_info as info
import deb

ROOT = info.ROOT
DIST = ROOT / "dist"
WORK = ROOT / "build"
SPEC = ROOT / "packaging" / "marquee.spec"
IS_WIN = sys.platform == "win32"
IS_MAC = sys.platform == "darwin"
SELF_TEST_TIMEOUT_S = 900
STARTUP_TIMEOUT_S = 180


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-archive", action="store_true", help="no .tar.gz/.zip (faster)")
    parser.add_argument(
        "--self-test", action="store_true", help="run the frozen self-test and time start-up"
    )
    parser.add_argument(
        "--skip-build", action="store_true", help="reuse the bundle already in dist/"
    )
    parser.add_argument("--skip-deb", action="store_true", help="no .deb (Linux)")
    parser.add_argument(
        "--deb-compression",
        choices=sorted(deb.COMPRESSION),
        default=deb.DEFAULT_COMPRESSION,
        help=f"default: {deb.DEFAULT_COMPRESSION} (xz for dpkg before 1.21.18)",
    )
    return parser.parse_args(argv)


def bundle_dir() -> Path:
    return DIST / (f"{info.APP_NAME}.app" if IS_MAC else info.APP_NAME)


def executable() -> Path:
    if IS_MAC:
        return bundle_dir() / "Contents" / "MacOS" / info.APP_NAME
    return bundle_dir() / (f"{info.APP_NAME}.exe" if IS_WIN else info.APP_NAME)


def megabytes(n_bytes: int) -> float:
    return round(n_bytes / 1e6, 1)


def tree_size(path: Path) -> tuple[int, int]:
    """Bytes and file count under `path` (symlinks counted as links, not followed)."""
    total = files = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            total += os.lstat(os.path.join(root, name)).st_size
            files += 1
    return total, files


def run_pyinstaller() -> float:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit("PyInstaller is missing: pip install -e '.[packaging]' (or python3 dev.py build).")
    cmd = [sys.executable, "-m", "PyInstaller", "--clean", "--noconfirm", "--log-level=WARN"]
    cmd += ["--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)]
    print("+", " ".join(cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - started


def add_linux_desktop_files(bundle: Path) -> None:
    """The .desktop entry and its icon, at the top of the bundle (see docs/installers.md)."""
    shutil.copy2(ROOT / "packaging" / "marquee.desktop", bundle / "marquee.desktop")
    shutil.copy2(ROOT / "resources" / "marquee.png", bundle / "marquee.png")


def make_archive(bundle: Path) -> Path:
    stem = f"{info.APP_NAME}-{info.version()}-{info.platform_tag()}"
    if IS_WIN:
        archive = DIST / f"{stem}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(bundle.rglob("*")):
                zf.write(path, path.relative_to(bundle.parent))
        return archive
    archive = DIST / f"{stem}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=bundle.name)  # keeps symlinks (macOS frameworks)
    return archive


def run_self_test(exe: Path) -> dict[str, Any]:
    """Run the frozen `--self-test`; its JSON plus the wall time from launch to exit."""
    out = WORK / "self-test.json"
    out.unlink(missing_ok=True)
    cmd = [str(exe), "--self-test", "--json-out", str(out)]
    print("+", " ".join(cmd), flush=True)
    launched = time.time()
    proc = subprocess.run(cmd, timeout=SELF_TEST_TIMEOUT_S, cwd=tempfile.gettempdir())
    if not out.is_file():
        raise SystemExit(f"The frozen self-test wrote no result (exit code {proc.returncode}).")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["wall_s"] = round(time.time() - launched, 2)
    clock = result.get("clock", {})
    if "window_at" in clock:
        # Launch to main(): bootloader + interpreter start; launch to the window: + imports.
        result["boot_s"] = round(clock["main_at"] - launched, 2)
        result["to_window_s"] = round(clock["window_at"] - launched, 2)
    if proc.returncode != 0 or not result.get("ok"):
        print(json.dumps(result, indent=2), file=sys.stderr)
        raise SystemExit(f"The frozen self-test failed (exit code {proc.returncode}).")
    return result


def time_first_paint(exe: Path) -> float | None:
    """Seconds from launch to the main window's first paint (offscreen unless QT_QPA_PLATFORM)."""
    with tempfile.TemporaryDirectory(prefix="marquee-startup-") as home:
        env = {**os.environ, "MARQUEE_STARTUP_PROBE": "1", "MARQUEE_HOME": home}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        started = time.time()
        proc = subprocess.run(
            [str(exe)], env=env, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S
        )
    for line in proc.stdout.splitlines():
        if line.startswith("FIRST_PAINT "):
            return round(float(line.split()[1]) - started, 2)
    if proc.returncode != 0:
        raise SystemExit(f"The frozen GUI failed to start:\n{proc.stderr[-4000:]}")
    print("warning: the frozen GUI started but reported no first paint", file=sys.stderr)
    return None


def build_step(report: dict[str, Any]) -> None:
    report["build_s"] = round(run_pyinstaller(), 1)
    if sys.platform.startswith("linux"):
        add_linux_desktop_files(bundle_dir())
    print(f"build: {report['build_s']} s")


def size_step(report: dict[str, Any]) -> None:
    bundle = bundle_dir()
    if not executable().is_file():
        sys.exit(f"No bundle at {bundle}: build it first (drop --skip-build).")
    size, files = tree_size(bundle)
    report.update(bundle=str(bundle), bundle_mb=megabytes(size), bundle_files=files)
    report["components_mb"] = info.components_mb(bundle)
    print(f"bundle: {bundle} {report['bundle_mb']} MB in {files} files; largest parts:")
    for component, mb in list(report["components_mb"].items())[:8]:
        print(f"  {mb:8.1f} MB  {component}")


def self_test_step(report: dict[str, Any]) -> None:
    result = report["self_test"] = run_self_test(executable())
    first_paint = report["gui_first_paint_s"] = time_first_paint(executable())
    platform = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    print(f"frozen self-test: ok in {result['wall_s']} s {result['timings']}")
    print(f"frozen start to window: {result.get('to_window_s')} s (self-test)")
    print(f"frozen start to first paint: {first_paint} s (GUI, {platform})")


def archive_step(report: dict[str, Any]) -> None:
    started = time.perf_counter()
    archive = make_archive(bundle_dir())
    report["archive"] = str(archive)
    report["archive_mb"] = megabytes(archive.stat().st_size)
    report["archive_s"] = round(time.perf_counter() - started, 1)
    print(f"archive: {archive} {report['archive_mb']} MB in {report['archive_s']} s")


def deb_step(report: dict[str, Any], compression: str) -> None:
    root = deb.stage(bundle_dir(), WORK / "deb-root", info.version())
    package, seconds = deb.build(root, DIST, compression)
    report["deb"] = str(package)
    report["deb_mb"] = megabytes(package.stat().st_size)
    report["deb_installed_mb"] = megabytes(deb.tree_kib(root) * 1024)
    report["deb_s"] = round(seconds, 1)
    print(f"deb: {package} {report['deb_mb']} MB ({compression}) in {report['deb_s']} s")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {"version": info.version(), "platform": info.platform_tag()}
    if not args.skip_build:
        build_step(report)
    size_step(report)
    if args.self_test:
        self_test_step(report)
    if not args.skip_archive:
        archive_step(report)
    if sys.platform.startswith("linux") and not args.skip_deb and shutil.which("dpkg-deb"):
        deb_step(report, args.deb_compression)
    out = DIST / "build-report.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

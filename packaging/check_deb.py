"""Check a built Marquee .deb: unpacked into a scratch root, or really installed and removed.

    python packaging/check_deb.py dist/marquee_*.deb            # dpkg -x; any user (CI)
    python packaging/check_deb.py dist/marquee_*.deb --install  # dpkg -i ... dpkg -r; root

Unpacked: control fields, maintainer scripts (sh -n, then run against the scratch root
through DPKG_ROOT), the desktop entry (desktop-file-validate), the /usr/bin/marquee link,
then the frozen self-test from the unpacked /opt/marquee. Installed: the self-test from the
PATH, the caches the postinst refreshed, a second launch handing a poster to the running
window, first-window times cold and warm, then `dpkg -r` and a check that no file is left.
Numbers go to dist/deb-check.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build
import deb
import launch_checks

REQUIRED_FIELDS = ("Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends")
DESKTOP = Path("usr/share/applications") / f"{deb.PACKAGE}.desktop"
MIME_TYPE = Path("usr/share/mime/application/x-marquee-model.xml")  # update-mime-database
ICON_CACHE = Path("usr/share/icons/hicolor/icon-theme.cache")  # gtk-update-icon-cache


def fail(message: str) -> None:
    raise SystemExit(f"check_deb: FAILED: {message}")


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> str:
    print("+", " ".join(map(str, cmd)), flush=True)
    done = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        fail(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def check_control(control_dir: Path) -> dict[str, str]:
    text = (control_dir / "control").read_text(encoding="utf-8")
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line[:40])
    missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
    if missing or fields["Package"] != deb.PACKAGE:
        fail(f"control: missing {missing} or wrong package in\n{text}")
    return fields


def check_scripts(control_dir: Path, root: Path) -> None:
    """Syntax, then a real run against the scratch root: the caches land inside it."""
    env = {**os.environ, "DPKG_ROOT": str(root)}
    for name, event in (("postinst", "configure"), ("postrm", "remove")):
        script = control_dir / name
        if not os.access(script, os.X_OK):
            fail(f"{name} is not executable")
        run("sh", "-n", script)
        run("sh", script, event, env=env)
    if shutil.which("update-mime-database") and not (root / MIME_TYPE).is_file():
        fail(f"update-mime-database did not register the model type ({MIME_TYPE} missing)")
    if shutil.which("update-desktop-database"):
        # What file managers read for "Open with": model files and posters -> Marquee.
        cache = (root / DESKTOP.parent / "mimeinfo.cache").read_text(encoding="utf-8")
        if f"application/x-marquee-model={DESKTOP.name};" not in cache:
            fail(f"the desktop database does not offer Marquee for model files:\n{cache}")


def check_desktop_entry(path: Path) -> None:
    if shutil.which("desktop-file-validate") is None:
        print("warning: desktop-file-validate is missing (apt-get install desktop-file-utils)")
        return
    if output := run("desktop-file-validate", path).strip():
        fail(f"desktop-file-validate: {output}")  # it prints nothing for a valid entry


def check_unpacked(package: Path, report: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="marquee-deb-", dir=build.WORK) as scratch:
        root, control_dir = Path(scratch) / "root", Path(scratch) / "DEBIAN"
        run("dpkg-deb", "-x", package, root)
        run("dpkg-deb", "-e", package, control_dir)
        report["control"] = check_control(control_dir)
        check_scripts(control_dir, root)
        check_desktop_entry(root / DESKTOP)
        link = os.readlink(root / "usr/bin" / deb.PACKAGE)
        exe = root / link.lstrip("/")
        if not os.access(exe, os.X_OK):
            fail(f"/usr/bin/{deb.PACKAGE} points to {link}, which is not in the package")
        report["unpacked_self_test"] = build.run_self_test(exe)


def check_installed(package: Path, report: dict[str, Any]) -> None:
    if os.geteuid() != 0:
        fail("--install needs root (dpkg -i)")
    run("dpkg", "-i", package)
    try:
        files = run("dpkg", "-L", deb.PACKAGE).splitlines()
        exe = shutil.which(deb.PACKAGE)
        if exe != f"/usr/bin/{deb.PACKAGE}":
            fail(f"`{deb.PACKAGE}` on the PATH is {exe}")
        for path in (Path("/") / MIME_TYPE, Path("/") / ICON_CACHE):
            report[f"cache {path}"] = path.is_file()
        check_desktop_entry(Path("/") / DESKTOP)
        report["installed_self_test"] = build.run_self_test(Path(exe))
        report["hand_off_s"] = launch_checks.hand_off_seconds(Path(exe))
        report["first_window"] = launch_checks.first_window_times(Path(exe))
    finally:
        run("dpkg", "-r", deb.PACKAGE)
    report["left_after_remove"] = leftovers(files)
    if report["left_after_remove"]:
        fail(f"dpkg -r left files behind: {report['left_after_remove']}")


def leftovers(listed: list[str]) -> list[str]:
    """The package's own paths still present (not shared folders such as /usr/share/icons),
    plus the MIME type the postinst registered, which the postrm must have dropped."""
    own = [p for p in listed if p.startswith(f"/opt/{deb.PACKAGE}") or deb.PACKAGE in Path(p).name]
    return [p for p in [*own, f"/{MIME_TYPE}"] if os.path.lexists(p)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--install", action="store_true", help="dpkg -i, check, dpkg -r (root)")
    args = parser.parse_args(argv)
    build.WORK.mkdir(parents=True, exist_ok=True)
    size = build.megabytes(args.package.stat().st_size)
    report: dict[str, Any] = {"deb": str(args.package), "deb_mb": size}
    check_unpacked(args.package, report)
    if args.install:
        check_installed(args.package, report)
    out = build.DIST / "deb-check.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"check_deb: ok ({out})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

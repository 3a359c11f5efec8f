"""The Debian package's layout, from a tiny fake bundle (no PyInstaller build needed)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))
import deb

MIME_NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
STUB_TOOLS = ("update-desktop-database", "update-mime-database", "gtk-update-icon-cache")


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    bundle = tmp_path / "Marquee"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "Marquee").write_text("#!/bin/sh\necho frozen\n")
    (bundle / "Marquee").chmod(0o755)
    (bundle / "_internal" / "libtorch.so").write_bytes(b"\0" * 5000)
    return deb.stage(bundle, tmp_path / "root", "1.2.0rc1", arch="amd64")


def _control(root: Path) -> dict[str, str]:
    lines = (root / "DEBIAN" / "control").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if not line.startswith(" "))


def test_the_bundle_lands_in_opt_and_the_command_on_the_path(staged: Path) -> None:
    exe = staged / "opt" / "marquee" / "Marquee"
    assert exe.read_text() == "#!/bin/sh\necho frozen\n"
    assert os.access(exe, os.X_OK)
    assert (staged / "opt" / "marquee" / "_internal" / "libtorch.so").stat().st_size == 5000
    command = staged / "usr" / "bin" / "marquee"
    assert command.is_symlink() and os.readlink(command) == "/opt/marquee/Marquee"


def test_control_names_the_package_and_counts_only_installed_files(staged: Path) -> None:
    control = _control(staged)
    assert control["Package"] == "marquee"
    assert control["Version"] == "1.2.0~rc1"  # sorts before 1.2.0, as PEP 440's rc does
    assert control["Architecture"] == "amd64"
    assert "libc6" in control["Depends"] and "libegl1" in control["Depends"]
    # 5000 B of torch + the launcher, icons, desktop entry and MIME XML; never the DEBIAN files.
    assert 5 < int(control["Installed-Size"]) < 100


def test_desktop_entry_opens_files_of_the_mime_type_the_package_defines(staged: Path) -> None:
    entry = (staged / "usr/share/applications/marquee.desktop").read_text()
    assert "\nExec=marquee %F\n" in entry and "\nIcon=marquee\n" in entry
    mime_types = next(line for line in entry.splitlines() if line.startswith("MimeType="))
    tree = ET.parse(staged / "usr/share/mime/packages/marquee.xml")
    defined = tree.find("m:mime-type", MIME_NS)
    assert defined is not None
    assert f"{defined.get('type')};" in mime_types
    assert "image/jpeg;" in mime_types and "image/png;" in mime_types
    assert defined.find("m:glob", MIME_NS).get("pattern") == "*.safetensors"


def test_the_mime_magic_matches_a_real_model_header(staged: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from core.modelfile.checkpoint import METADATA_KEY

    model = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(3)}, str(model), metadata={METADATA_KEY: '{"labels": []}'})
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other), metadata={"format": "pt"})
    tree = ET.parse(staged / "usr/share/mime/packages/marquee.xml")
    match = tree.find(".//m:magic/m:match", MIME_NS)
    offset, value = int(match.get("offset")), match.get("value").encode()
    assert model.read_bytes()[offset : offset + len(value)] == value
    assert other.read_bytes()[offset : offset + len(value)] != value


def test_icons_come_in_every_hicolor_size(staged: Path) -> None:
    for size in deb.ICON_SIZES:
        icon = staged / f"usr/share/icons/hicolor/{size}x{size}/apps/marquee.png"
        with Image.open(icon) as image:
            assert image.size == (size, size)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in staged.rglob("*") if p.is_dir()}
    assert modes == {0o755}


def _run_script(staged: Path, name: str, arg: str, path: str, tmp_path: Path, theme: bool = True):
    root = tmp_path / "fake-root"
    index = root / "usr/share/icons/hicolor/index.theme"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text("[Icon Theme]\n") if theme else index.unlink(missing_ok=True)
    env = {"PATH": path, "DPKG_ROOT": str(root)}
    script = staged / "DEBIAN" / name
    return subprocess.run(["/bin/sh", str(script), arg], env=env, capture_output=True, text=True)


def _stubs(folder: Path, exit_code: int) -> Path:
    folder.mkdir()
    for tool in STUB_TOOLS:
        (folder / tool).write_text(
            f'#!/bin/sh\necho "{tool} $*" >> "{folder}/calls"\nexit {exit_code}\n'
        )
        (folder / tool).chmod(0o755)
    return folder


@pytest.mark.skipif(not shutil.which("sh"), reason="needs a POSIX shell")
@pytest.mark.parametrize(("name", "event"), [("postinst", "configure"), ("postrm", "remove")])
def test_maintainer_scripts_refresh_the_caches_under_dpkg_root(staged, tmp_path, name, event):
    script = staged / "DEBIAN" / name
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    tools = _stubs(tmp_path / "tools", exit_code=0)
    assert _run_script(staged, name, event, f"{tools}:/usr/bin:/bin", tmp_path).returncode == 0
    calls = (tools / "calls").read_text()
    root = tmp_path / "fake-root"
    assert f"update-mime-database {root}/usr/share/mime" in calls
    assert f"update-desktop-database -q {root}/usr/share/applications" in calls
    assert f"gtk-update-icon-cache -q -f {root}/usr/share/icons/hicolor" in calls
    (tools / "calls").unlink()
    _run_script(staged, name, event, f"{tools}:/usr/bin:/bin", tmp_path, theme=False)
    # Without the hicolor theme there is no cache to refresh, and none is made to outlive us.
    assert "gtk-update-icon-cache" not in (tools / "calls").read_text()


@pytest.mark.parametrize("name", ["postinst", "postrm"])
def test_maintainer_scripts_never_fail_on_missing_or_broken_tools(staged, tmp_path, name):
    event = "configure" if name == "postinst" else "purge"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run_script(staged, name, event, str(empty), tmp_path).returncode == 0
    broken = _stubs(tmp_path / "broken", exit_code=1)
    assert _run_script(staged, name, event, str(broken), tmp_path).returncode == 0
    assert len((broken / "calls").read_text().splitlines()) == 3


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb (Debian/Ubuntu)")
@pytest.mark.parametrize("compression", sorted(deb.COMPRESSION))
def test_dpkg_deb_builds_it_with_files_owned_by_root(staged, tmp_path, compression) -> None:
    package, _seconds = deb.build(staged, tmp_path, compression=compression)
    assert package.name == "marquee_1.2.0~rc1_amd64.deb"
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(package)], capture_output=True, text=True, check=True
    ).stdout
    assert all(" root/root " in line for line in listing.splitlines())
    for path in ("./opt/marquee/Marquee", "./usr/bin/marquee -> /opt/marquee/Marquee"):
        assert path in listing
    assert "./usr/share/icons/hicolor/48x48/apps/marquee.png" in listing


def test_debian_versions_keep_pep440_order() -> None:
    assert deb.deb_version("0.1.0") == "0.1.0"
    assert deb.deb_version("1.0rc2") == "1.0~rc2"
    assert deb.deb_version("1.0.dev3") == "1.0~dev3"

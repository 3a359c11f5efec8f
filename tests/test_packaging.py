"""The PyInstaller build's helpers (the build itself runs in CI: python3 dev.py build)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import core

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle_info = _load(PACKAGING / "bundle_info.py")


def test_version_is_core_version() -> None:
    assert bundle_info.version() == core.__version__


def test_platform_tag_names_os_and_machine() -> None:
    assert re.fullmatch(r"(linux|macos|windows|[a-z0-9]+)-[a-z0-9_]+", bundle_info.platform_tag())


def test_windows_version_info_is_a_valid_resource_text() -> None:
    calls: list[tuple[str, tuple, dict]] = []

    def record(name: str):
        def make(*args, **kwargs) -> str:
            calls.append((name, args, kwargs))
            return name

        return make

    names = ["VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct"]
    namespace = {name: record(name) for name in [*names, "VarFileInfo", "VarStruct"]}
    # PyInstaller evaluates this text with its versioninfo classes in scope, like this.
    eval(bundle_info.windows_version_info("1.2.3"), namespace)
    assert calls[-1][0] == "VSVersionInfo"
    fixed = next(kwargs for name, _, kwargs in calls if name == "FixedFileInfo")
    assert fixed["filevers"] == fixed["prodvers"] == (1, 2, 3, 0)
    assert ("StringStruct", ("ProductVersion", "1.2.3"), {}) in calls


def test_excluded_qt_modules_spare_what_the_app_uses() -> None:
    used = {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtOpenGL", "QtOpenGLWidgets", "QtSvg"}
    excluded = {name.removeprefix("PySide6.") for name in bundle_info.QT_EXCLUDES}
    assert not used & excluded
    assert {"QtWebEngineCore", "Qt3DCore", "QtMultimedia", "QtQuick"} <= excluded


def test_torchvision_hook_finds_the_stable_libraries() -> None:
    pytest.importorskip("PyInstaller")
    import torchvision

    hook = _load(PACKAGING / "hooks" / "hook-torchvision.py")
    names = {Path(src).stem for src, dest in hook.binaries if dest == "torchvision"}
    package_dir = Path(torchvision.__file__).parent
    expected = {p.stem for p in package_dir.glob("*_stable.*") if p.suffix in hook._SUFFIXES}
    assert expected, "this torchvision has no *_stable libraries: recheck the hook"
    assert expected <= names


def test_serve_hidden_imports_cover_what_uvicorn_loads_by_name() -> None:
    import inspect

    from uvicorn import config

    from core.serving import server

    tables = {
        "http": config.HTTP_PROTOCOLS,
        "loop": config.LOOP_FACTORIES,
        "lifespan": config.LIFESPAN,
        "ws": config.WS_PROTOCOLS,
    }
    hidden = set(bundle_info.SERVE_HIDDEN_IMPORTS)
    source = inspect.getsource(server.uvicorn_config)
    for option, choice in bundle_info.UVICORN_CHOICES.items():
        assert f'{option}="{choice}"' in source  # the server asks uvicorn for exactly these
        target = tables[option][choice]
        assert target is None or target.split(":")[0] in hidden, (option, target)
    for name in hidden - {"uvicorn.protocols.http.httptools_impl"}:  # httptools: optional
        assert importlib.util.find_spec(name) is not None, name


def test_never_loaded_leaves_out_only_what_nothing_loads() -> None:
    assert bundle_info.never_loaded("torch/bin/protoc-3.21.12.0")
    assert bundle_info.never_loaded("PySide6\\Qt\\translations\\qtbase_de.qm")
    for kept in ("torch/bin/torch_shm_manager", "torch/lib/libtorch_cuda.so", "PySide6/Qt/lib"):
        assert not bundle_info.never_loaded(kept), kept
    # Qt's translations are dead weight only while the app installs no translator.
    sources = [*Path(core.__file__).parent.rglob("*.py"), *PACKAGING.parent.glob("gui/**/*.py")]
    assert not [p for p in sources if "QTranslator" in p.read_text(encoding="utf-8")]


def test_components_group_the_bundle_by_library(tmp_path: Path) -> None:
    files = {
        "Marquee": 10,
        "_internal/nvidia/cudnn/lib/libcudnn.so.9": 300,
        "_internal/nvidia/cudnn/include/cudnn.h": 5,
        "_internal/torch/lib/libtorch_cpu.so": 200,
        "_internal/PySide6/Qt/lib/libQt6Core.so.6": 100,
    }
    for name, size in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size * 1000)
    assert bundle_info.components_mb(tmp_path) == {
        "nvidia/cudnn": 0.3,
        "torch/lib": 0.2,
        "PySide6": 0.1,
        "(loose: launcher, libpython, system libraries)": 0.0,
    }

"""What the bundle is called and what it leaves out; shared by marquee.spec and build.py.

Kept free of PyInstaller imports so the build script and tests can use it anywhere.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "Marquee"
BUNDLE_ID = "app.marquee.Marquee"

# Qt modules Marquee does not use. The app imports QtCore/QtGui/QtWidgets; pyqtgraph also
# needs QtOpenGL + QtOpenGLWidgets (loaded with importlib) and uses QtSvg when present;
# QtNetwork carries the local socket that hands files to an already running window.
# Add-on modules are listed too, so a venv with full PySide6 still gives a lean bundle.
_UNUSED_QT = [
    "QtConcurrent",
    "QtDBus",
    "QtDesigner",
    "QtHelp",
    "QtLabsStyleKit",
    "QtPrintSupport",
    "QtQml",
    "QtQmlFeatures",
    "QtQuick",
    "QtQuickControls2",
    "QtQuickTest",
    "QtQuickWidgets",
    "QtSql",
    "QtTest",
    "QtUiTools",
    "QtXml",
    "QtSvgWidgets",
    # PySide6-Addons
    "Qt3DAnimation",
    "Qt3DCore",
    "Qt3DExtras",
    "Qt3DInput",
    "Qt3DLogic",
    "Qt3DRender",
    "QtAxContainer",
    "QtBluetooth",
    "QtCharts",
    "QtDataVisualization",
    "QtGraphs",
    "QtGraphsWidgets",
    "QtHttpServer",
    "QtLocation",
    "QtMultimedia",
    "QtMultimediaWidgets",
    "QtNetworkAuth",
    "QtNfc",
    "QtPdf",
    "QtPdfWidgets",
    "QtPositioning",
    "QtQuick3D",
    "QtRemoteObjects",
    "QtScxml",
    "QtSensors",
    "QtSerialBus",
    "QtSerialPort",
    "QtSpatialAudio",
    "QtStateMachine",
    "QtTextToSpeech",
    "QtWebChannel",
    "QtWebEngineCore",
    "QtWebEngineQuick",
    "QtWebEngineWidgets",
    "QtWebSockets",
    "QtWebView",
]
QT_EXCLUDES = [f"PySide6.{name}" for name in _UNUSED_QT]
QT_HIDDEN_IMPORTS = [
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtSvg",
]

# `marquee serve`: uvicorn loads its protocol, loop and lifespan classes from import strings
# (core.serving.server pins loop="asyncio", ws="none", lifespan="on"), and Starlette imports
# python_multipart lazily, so the analysis cannot see them.
UVICORN_CHOICES = {"http": "auto", "loop": "asyncio", "lifespan": "on", "ws": "none"}
SERVE_HIDDEN_IMPORTS = [
    "uvicorn.logging",
    "uvicorn.loops.auto",
    "uvicorn.loops.asyncio",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
    "python_multipart",
    "core.serving.app",
    "core.serving.server",
    "core.inference.onnx_export",
]

# Python packages present in the dev venv (or optional imports of our dependencies) that the
# app never needs. triton (~0.9 GB) only serves torch.compile; torch imports it inside a
# try/except. scipy and torchmetrics are dev-only (test references).
PYTHON_EXCLUDES = [
    "tkinter",
    "_tkinter",
    "matplotlib",
    "IPython",
    "jedi",
    "notebook",
    "skimage",
    "scipy",
    "torchmetrics",
    "triton",
    "pytest",
    "_pytest",
    "pytestqt",
    "pluggy",
    "importlinter",
    "grimp",
    "PyQt5",
    "PyQt6",
    "PySide2",
    # The run trackers are optional extras (pip install marquee[mlflow] / [tensorboard]);
    # core.runs.trackers imports them only when asked, and says how to install them.
    "mlflow",
    "tensorboard",
    "torch.utils.tensorboard",
    # MLflow's store in the dev venv; pandas would only reach it through read_sql (9 MB)
    "sqlalchemy",
    "alembic",
    "mypy",
]


# Files the hooks collect that nothing ever loads: no import, no NEEDED entry (readelf -d over
# the whole bundle), no dlopen or subprocess names them. Every CUDA library stays: each is
# NEEDED by libtorch_cuda.so or its dependencies, or dlopened by torch (_load_global_deps,
# libtorch_cuda_linalg) or by cuDNN (its engine libraries).
NEVER_LOADED = (
    "torch/bin/protoc",  # protobuf's compiler (two 5.5 MB copies): a build tool, never run
    "PySide6/Qt/translations/",  # Qt's own UI strings: Marquee installs no QTranslator (7 MB)
)


def never_loaded(dest: str) -> bool:
    """True for a bundle path (PyInstaller's destination name) that NEVER_LOADED leaves out."""
    return dest.replace("\\", "/").startswith(NEVER_LOADED)


# macOS: what Finder may open with Marquee. safetensors is not Marquee's own format, so its
# type is imported (declared, not owned); models open by default, posters as an alternative.
MODEL_UTI = "app.marquee.safetensors-model"
MACOS_FILE_TYPES = {
    "UTImportedTypeDeclarations": [
        {
            "UTTypeIdentifier": MODEL_UTI,
            "UTTypeDescription": "Marquee model",
            "UTTypeConformsTo": ["public.data"],
            "UTTypeTagSpecification": {"public.filename-extension": ["safetensors"]},
        }
    ],
    "CFBundleDocumentTypes": [
        {
            "CFBundleTypeName": "Marquee model",
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "Default",
            "LSItemContentTypes": [MODEL_UTI],
        },
        {
            "CFBundleTypeName": "Poster",
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "Alternate",
            "LSItemContentTypes": ["public.jpeg", "public.png", "org.webmproject.webp"],
        },
    ],
}


def version() -> str:
    """core.__version__, read from the source so no heavy import is needed."""
    text = (ROOT / "core" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise RuntimeError("core/__init__.py has no __version__")
    return match.group(1)


def platform_tag() -> str:
    """e.g. linux-x86_64, macos-arm64, windows-amd64 (archive names)."""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    if system.startswith("linux"):
        system = "linux"
    return f"{system}-{platform.machine().lower()}"


def windows_version_info(app_version: str) -> str:
    """A PyInstaller version-resource file (VSVersionInfo) for the Windows executable."""
    numbers = [int(n) for n in re.findall(r"\d+", app_version)[:4]]
    quad = tuple(numbers + [0] * (4 - len(numbers)))
    strings = {
        "CompanyName": APP_NAME,
        "FileDescription": f"{APP_NAME}: multi-label image classification",
        "FileVersion": app_version,
        "InternalName": APP_NAME,
        "LegalCopyright": "Apache-2.0",
        "OriginalFilename": f"{APP_NAME}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": app_version,
    }
    structs = ",\n          ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={quad},
    prodvers={quad},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [
          {structs}
        ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def component_of(relative: Path) -> str:
    """The part of the bundle a file belongs to: nvidia/<library>, torch/lib, PySide6, ..."""
    parts = relative.parts[1:] if relative.parts[:1] == ("_internal",) else relative.parts
    if len(parts) <= 1:
        return "(loose: launcher, libpython, system libraries)"
    if parts[0] in ("nvidia", "torch") and len(parts) > 2:
        return f"{parts[0]}/{parts[1]}"  # the CUDA libraries, one wheel each; torch's lib/
    return parts[0]


def components_mb(bundle: Path) -> dict[str, float]:
    """MB per component, largest first (symlinks count as links, as dpkg and tar store them)."""
    sizes: dict[str, int] = {}
    for root, _dirs, names in os.walk(bundle):
        for name in names:
            path = Path(root, name)
            key = component_of(path.relative_to(bundle))
            sizes[key] = sizes.get(key, 0) + path.lstat().st_size
    ranked = sorted(sizes.items(), key=lambda item: -item[1])
    return {key: round(size / 1e6, 1) for key, size in ranked}


if __name__ == "__main__":
    for component, mb in components_mb(Path(sys.argv[1])).items():
        print(f"{mb:9.1f} MB  {component}")

"""PyInstaller hook for torchvision (replaces the contrib hook of the same name).

torchvision 0.29 loads its compiled ops with `torch.ops.load_library(<package dir>/_C_stable.so)`
(and `image_stable.so` for torchvision.io), found by path rather than imported, so PyInstaller's
analysis never sees them and the contrib hook still names the old `_C`/`image` modules. Without
them the frozen app dies with "operator torchvision::nms does not exist". Collect every such
library that exists for this platform (.so, .pyd, .dylib) into `torchvision/`, where
torchvision looks for them.
"""

from __future__ import annotations

from pathlib import Path

from PyInstaller.utils.hooks import collect_dynamic_libs, get_package_paths

_EXTENSIONS = ("_C_stable", "image_stable", "_C", "image")
_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


def _extension_libraries(package_dir: Path) -> list[tuple[str, str]]:
    found = [
        path
        for stem in _EXTENSIONS
        for path in package_dir.glob(f"{stem}.*")
        if path.suffix in _SUFFIXES
    ]
    return [(str(path), "torchvision") for path in sorted(set(found))]


_, _package_dir = get_package_paths("torchvision")
binaries = _extension_libraries(Path(_package_dir)) + collect_dynamic_libs("torchvision")

# As in the contrib hook: keep the .py sources next to the bytecode for TorchScript.
module_collection_mode = "pyz+py"

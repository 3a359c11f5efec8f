#!/bin/sh
# A drag-to-Applications disk image from dist/Marquee.app (after `python3 dev.py build`).
# UNTESTED on this project's Linux machines; .github/workflows/installers.yml runs it on
# macos-latest, mounts the image and runs the self-test from the mounted app.
#
#   sh packaging/macos/make_dmg.sh    ->  dist/Marquee-<version>-macos-<arch>.dmg
#
# The app is signed ad hoc by PyInstaller. To hand it out without Gatekeeper's warning, sign
# it with a Developer ID first (codesign --deep --options runtime) and notarise the .dmg
# (xcrun notarytool submit --wait, then xcrun stapler staple).
set -eu
cd "$(dirname "$0")/../.."
app=dist/Marquee.app
[ -d "$app" ] || { echo "make_dmg: $app is missing: run python3 dev.py build first" >&2; exit 2; }
version=$(python3 -c 'import sys; sys.path.insert(0, "packaging"); import bundle_info; print(bundle_info.version())')
dmg="dist/Marquee-$version-macos-$(uname -m).dmg"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# ditto keeps the bundle's symlinks, extended attributes and signature intact.
ditto "$app" "$stage/Marquee.app"
ln -s /Applications "$stage/Applications"
# ULFO (lzfse): smaller and faster to open than zlib's UDZO; needs macOS 10.11, and the app
# itself needs 11 (LSMinimumSystemVersion).
hdiutil create -volname "Marquee $version" -srcfolder "$stage" -fs HFS+ -format ULFO -ov "$dmg"
echo "make_dmg: $dmg ($(du -h "$dmg" | cut -f1))"

"""Entry script of the frozen app: PyInstaller runs this file as __main__."""

from __future__ import annotations

import sys

from gui.app import main

if __name__ == "__main__":
    sys.exit(main())

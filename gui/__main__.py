"""`python -m gui` runs Marquee exactly like the installed `marquee` command."""

import sys

from gui.app import main

sys.exit(main())

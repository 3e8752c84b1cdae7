"""`python -m cni_quickstart`: run as a CNI plugin (also the PyInstaller entry script)."""

import sys

from cni_quickstart.main import main

if __name__ == "__main__":
    sys.exit(main())

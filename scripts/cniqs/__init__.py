"""cniqs: the workshop steps, installers and helpers around the cni-quickstart plugin."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFLIST_DIR = REPO / "conflist"

"""drctl, the operator CLI of the DR orchestrator: plans, runs, approvals and reports over the app's HTTP API,
and the local stack's regional outages. `drctl --help` lists the commands and the exit codes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# `plans validate` runs the app's own plan validation (dr/). dr/ is the function app's source, not an installed
# package: the editable install maps drctl alone, so the app root (this package's parent folder) is put on the
# path, last, when dr is not importable already.
APP_ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("dr") is None and (APP_ROOT / "dr" / "plan.py").is_file():
    sys.path.append(str(APP_ROOT))

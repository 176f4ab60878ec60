"""The plan check CI runs (`make check-plans`, part of `make test`): every plan file in the folder the app
reads, DR_PLANS_DIR (default plans/ in the app root; a relative path is from the app root, as the app takes
it), validates as a failover and as a drill, and no two files use one plan name. A broken plan must fail
here, not at the worst moment.

Usage: .venv/bin/python scripts/check-plans.py    (exit 0: every plan valid; 1: one line per problem, each
naming the file, the step and the key)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the app root: dr/ is not an installed package

from dr.errors import PlanError
from dr.plan import load_catalog, plan_files
from dr.settings import Settings


def check(plans_dir: Path) -> tuple[list[str], list[str]]:
    """(the valid plans' names, the problems) of a plans folder."""
    try:
        files = list(plan_files(plans_dir))
        catalog = load_catalog(plans_dir)
    except PlanError as exc:
        return [], [exc.message]
    problems = list(catalog.errors)
    if not files:
        problems.append(f"plans folder {plans_dir} (setting DR_PLANS_DIR) has no plan file (*.yaml, *.yml)")
    for name, plan in catalog.plans.items():
        try:
            plan.for_mode("drill")
        except PlanError as exc:  # validated when the plan loaded: kept so that both modes are checked here
            problems.append(f"{catalog.files[name]}: {exc.message}")
    valid = sorted(name for name in catalog.plans if not any(str(catalog.files[name]) in p for p in problems))
    return valid, problems


def main() -> int:
    plans_dir = Settings().plans_dir
    valid, problems = check(plans_dir)
    for problem in problems:
        print(f"check-plans: FAIL {problem}", file=sys.stderr)
    if problems:
        print(f"check-plans: {len(problems)} problem(s) in {plans_dir}", file=sys.stderr)
        return 1
    print(f"check-plans: {len(valid)} plan(s) in {plans_dir} valid as failover and drill: {', '.join(valid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

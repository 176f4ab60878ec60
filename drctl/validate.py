"""`drctl plans validate`: the app's own plan validation (dr.plan, as `scripts/check-plans.py` runs it in CI),
with the YAML line of each problem's key, offline.

dr.plan says what is wrong and where as a dotted key (`steps.db.url`, steps by id, `drill.schedule`); the line
comes from the YAML node marks of the same text: the key's own line, or the line of the deepest part of the
key the file has (a missing field points at its step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dr.errors import PlanError
from dr.plan import PlanFile, plan_files, read_plan_file, scan_plans
from drctl.errors import CliError


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = shown(self.path) + (f":{self.line}" if self.line else "")
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {' '.join(self.message.split())}"


def shown(path: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _child(node: Node, part: str) -> tuple[int, Node] | None:
    """The node at ``part`` below ``node`` and the line it starts on (1-based)."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                return key.start_mark.line + 1, value
        return None
    if isinstance(node, SequenceNode):
        items: list[Node] = node.value
        index = part.removeprefix("#")  # dr.plan names a step without an id '#<position>'
        if index.isdigit():
            position = int(index) - (1 if part.startswith("#") else 0)
            if 0 <= position < len(items):
                return items[position].start_mark.line + 1, items[position]
        for item in items:  # steps are named by id
            if isinstance(item, MappingNode) and any(
                isinstance(k, ScalarNode) and k.value == "id" and isinstance(v, ScalarNode) and v.value == part
                for k, v in item.value
            ):
                return item.start_mark.line + 1, item
    return None


def key_line(text: str, key: str | None) -> int | None:
    """The 1-based line of ``key`` (dotted, as dr.plan names it) in the YAML ``text``; for a key the file does
    not have, the line of its deepest part that it has. None for a problem of the whole file."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return mark.line + 1 if mark is not None else None
    except yaml.YAMLError:
        return None
    if root is None or not key:
        return None
    node, line = root, None
    for part in key.split("."):
        found = _child(node, part)
        if found is None:
            break
        line, node = found
    return line if line is not None else root.start_mark.line + 1


def _findings(item: PlanFile) -> list[Finding]:
    try:
        text = item.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if item.plan is None:
        found = []
        for problem in item.problems:
            # A YAML syntax error is a problem of the whole file whose line is the parser's.
            syntax = problem.key is None and problem.message.startswith("not valid YAML")
            line = key_line(text, problem.key) if problem.key or syntax else None
            found.append(Finding(item.path, line, problem.key, problem.message))
        return found
    try:
        item.plan.for_mode("drill")  # checked when the plan loaded; kept, as CI's check keeps it
    except PlanError as exc:
        return [Finding(item.path, None, None, exc.message)]
    return []


def validate(target: Path) -> tuple[list[str], list[Finding]]:
    """(the valid plans' names, the problems) of a plan file or a plans folder (a second file naming a plan
    already named is a problem there, as in the app)."""
    if target.is_dir():
        try:
            files = list(plan_files(target))
            items = scan_plans(target)
        except PlanError as exc:
            raise CliError(exc.message) from None
        if not files:
            return [], [Finding(target, None, None, "no plan file here (*.yaml, *.yml)")]
    elif target.is_file():
        items = [read_plan_file(target)]
    else:
        raise CliError(f"{target}: no such file or folder")
    valid: list[str] = []
    problems: list[Finding] = []
    for item in items:
        found = _findings(item)
        problems += found
        if not found and item.plan is not None:
            valid.append(item.plan.name)
    return valid, problems

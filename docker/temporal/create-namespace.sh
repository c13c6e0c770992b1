#!/bin/sh
# Registers TEMPORAL_NAMESPACE (the namespace the workers poll) once the server answers; run by the
# one-shot `temporal-namespace` service of docker-compose.yml in the temporalio/admin-tools image.
# temporalio/server, unlike the deprecated auto-setup image, creates no namespace by itself.
set -eu
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
: "${TEMPORAL_ADDRESS:?}"

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal at $TEMPORAL_ADDRESS did not become healthy in 120 s" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE already registered"
else
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" --address "$TEMPORAL_ADDRESS"
  echo "namespace $NAMESPACE registered (retention $RETENTION)"
fi

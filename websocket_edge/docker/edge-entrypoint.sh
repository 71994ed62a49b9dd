#!/bin/sh
# Entry point of the tidings Python image.
#
# On ECS every edge task needs its own TIDINGS_EDGE_DELIVERY_URL (the address at which the
# worker reaches this task's delivery API) and TIDINGS_EDGE_ID; they cannot be written in
# the task definition, so they are derived here from the task metadata endpoint (v4)
# unless already set. Elsewhere (Compose, a plain docker run) nothing changes.
set -eu

if [ -n "${ECS_CONTAINER_METADATA_URI_V4:-}" ] && [ -z "${TIDINGS_EDGE_DELIVERY_URL:-}" ]; then
    exports="$(python /app/websocket_edge/docker/ecs_identity.py)"
    eval "$exports"
fi

exec "$@"

#!/bin/sh
# Start the image's service (its console script, opora-$OPORA_SERVICE, with any arguments,
# e.g. `rebuild-rollups` for feedback). In a container it listens on every interface unless
# OPORA_<SERVICE>_HTTP_HOST says otherwise: the services' own default is the loopback.
set -eu
service="${OPORA_SERVICE:?the image sets OPORA_SERVICE}"
host_var="OPORA_$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')_HTTP_HOST"
if [ -z "$(printenv "$host_var" || true)" ]; then
  export "$host_var=0.0.0.0"
fi
exec "opora-$service" "$@"

#!/bin/sh
# Start-up check of every mrm container (the image's entrypoint runs it before Airflow's): refuse to
# start, in one line, when a required secret is missing or any variable still holds the placeholder
# `change-me` (also inside a URL or a connection). Never prints a value.
#
#   MRM_REQUIRED_SECRETS="AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__CORE__FERNET_KEY" check-secrets.sh CMD...
#
# Then, when AIRFLOW_ADMIN_PASSWORD is set, the first SimpleAuthManager user's password is written to
# the passwords file Airflow reads (instead of a generated one printed to the log), and CMD runs.
set -eu

for name in ${MRM_REQUIRED_SECRETS:-}; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "mrm: refusing to start: $name is not set; put a long random value in .env (docs/DEPLOYING.md)" >&2
    exit 1
  fi
done

placeholder=$(awk 'BEGIN { for (k in ENVIRON) if (index(tolower(ENVIRON[k]), "change-me")) { print k; exit } }')
if [ -n "$placeholder" ]; then
  echo "mrm: refusing to start: $placeholder holds the placeholder change-me; set a long random value in .env (docs/DEPLOYING.md)" >&2
  exit 1
fi

if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ] && [ -n "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-}" ]; then
  python3 - <<'PY'
import json, os
users = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({users.split(",")[0].split(":")[0].strip(): os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
PY
fi

exec "$@"

#!/bin/bash
# One-shot initialisation of the stack's Rucio, run by the `rucio-init` service in the
# rucio/rucio-server image (same release as the server, so schema and client match).
#   1. writes /opt/rucio/etc/rucio.cfg from the RUCIO_CFG_* variables, the way the official
#      images do (merge_rucio_configs.py), plus an alembic.ini for the schema stamp;
#   2. creates the schema and the root account with its userpass identity (skipped when the
#      database already has them: `docker compose up` may run this again on every start);
#   3. configures accounts, scope, RSEs, protocols, attributes, limits and distances through the
#      REST API (configure.py, idempotent), from rses.json.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # /init is mounted read-only

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
etc=/opt/rucio/etc
log() { printf 'rucio-init: %s\n' "$*" >&2; }

: "${RUCIO_CFG_DATABASE_DEFAULT:?set RUCIO_CFG_DATABASE_DEFAULT to the Rucio database URL}"
: "${RUCIO_CFG_CLIENT_RUCIO_HOST:?set RUCIO_CFG_CLIENT_RUCIO_HOST to the Rucio server URL}"

mkdir -p "$etc"
tools=/usr/local/rucio/tools
if [[ ! -f "$tools/merge_rucio_configs.py" ]]; then
  log "no $tools/merge_rucio_configs.py in this image; use a rucio/rucio-server release image"
  exit 1
fi
python3 "$tools/merge_rucio_configs.py" --use-env -d "$etc/rucio.cfg"

# build_database() stamps the schema with alembic, whose env.py also loads the logging sections.
rucio_lib="$(python3 -c 'import os, rucio; print(os.path.dirname(rucio.__file__))')"
python3 - "$etc/alembic.ini" "${rucio_lib}/db/sqla/migrate_repo" <<'PY'
import configparser, os, sys
path, scripts = sys.argv[1], sys.argv[2]
parser = configparser.RawConfigParser()
parser.read_dict({
    'alembic': {'script_location': scripts, 'sqlalchemy.url': os.environ['RUCIO_CFG_DATABASE_DEFAULT']},
    'loggers': {'keys': 'root,sqlalchemy,alembic'},
    'handlers': {'keys': 'console'},
    'formatters': {'keys': 'generic'},
    'logger_root': {'level': 'WARN', 'handlers': 'console', 'qualname': ''},
    'logger_sqlalchemy': {'level': 'WARN', 'handlers': '', 'qualname': 'sqlalchemy.engine'},
    'logger_alembic': {'level': 'INFO', 'handlers': '', 'qualname': 'alembic'},
    'handler_console': {'class': 'StreamHandler', 'args': '(sys.stderr,)', 'level': 'NOTSET', 'formatter': 'generic'},
    'formatter_generic': {'format': '%(levelname)-5.5s [%(name)s] %(message)s', 'datefmt': '%H:%M:%S'},
})
with open(path, 'w') as handle:
    parser.write(handle)
PY

log "bootstrapping the database"
python3 "$here/bootstrap_db.py"

log "waiting for ${RUCIO_CFG_CLIENT_RUCIO_HOST}/ping"
for attempt in $(seq 1 60); do
  if curl -fsS "${RUCIO_CFG_CLIENT_RUCIO_HOST}/ping" >/dev/null; then break; fi
  if [[ "$attempt" -eq 60 ]]; then
    log "the Rucio server at ${RUCIO_CFG_CLIENT_RUCIO_HOST} did not answer /ping in 120 s; check 'docker compose logs rucio'"
    exit 1
  fi
  sleep 2
done

log "configuring accounts, scope and RSEs"
RUCIO_CONFIG="$etc/rucio.cfg" python3 "$here/configure.py" "$here/rses.json"
log "done"

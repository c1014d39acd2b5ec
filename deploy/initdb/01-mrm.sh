#!/bin/sh
# Run once by the postgres image on a new data volume, as its superuser (POSTGRES_USER, used by nothing
# else): the Airflow metadata login and database, and the administrator of the metrics history,
# mrm_admin: a CREATEROLE login, not a superuser, owning the database `mrm`. `mrm db upgrade` (the
# mrm-init service) runs as mrm_admin and creates the owner role mrm_owner and the app role mrm_app
# that every Airflow service uses (docs/DEPLOYING.md).
set -eu
for name in AIRFLOW_DB_PASSWORD MRM_ADMIN_DB_PASSWORD; do
  eval "value=\${$name:-}"
  case "$value" in
    "" | *change-me*)
      echo "initdb: refusing: $name is not set or is the placeholder change-me; set it in .env" >&2
      exit 1 ;;
  esac
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v admin_pw="$MRM_ADMIN_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
-- may create roles, is no superuser; on PostgreSQL 16 it becomes a member (SET, INHERIT) of the roles
-- it creates, so `mrm db upgrade` can run the migrations as mrm_owner
CREATE ROLE mrm_admin LOGIN CREATEROLE PASSWORD :'admin_pw';
ALTER ROLE mrm_admin SET createrole_self_grant = 'set, inherit';
CREATE DATABASE mrm OWNER mrm_admin;
REVOKE ALL ON DATABASE mrm FROM PUBLIC;
SQL

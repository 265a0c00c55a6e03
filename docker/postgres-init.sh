#!/bin/sh
# The tracking database lives beside (never inside) Airflow's metadata database. Its password
# comes from the environment (PWATCH_DB_PASSWORD), never from this file.
set -eu
: "${PWATCH_DB_PASSWORD:?set PWATCH_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 -v pw="$PWATCH_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE USER pwatch WITH PASSWORD :'pw';
CREATE DATABASE pwatch OWNER pwatch;
SQL

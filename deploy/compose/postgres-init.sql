-- PostgreSQL bootstrap for docker-compose.yml.
--
-- Runs once, as the superuser, when the data volume is still empty (docker-entrypoint-initdb.d).
-- Later changes to the passwords in .env are NOT applied here: use ALTER ROLE ... PASSWORD, or
-- remove the volume (docker compose down -v, which deletes all data).
--
-- Least privilege, as in Kubernetes (one CloudNativePG cluster per service): each service gets
-- one login role that owns exactly one database. It can create and migrate its own tables there
-- (PostgreSQL 15+: the public schema belongs to the database owner) and cannot even connect to
-- another service's database, because CONNECT is revoked from PUBLIC. No role but the
-- superuser is CREATEDB, CREATEROLE or SUPERUSER.
--
-- The passwords come from the container's environment (psql's \getenv, PostgreSQL 15+), so that
-- they live only in .env; an unset variable makes the script, and so the container, fail.

\set ON_ERROR_STOP on

\getenv assessment_password STYRKEDJA_ASSESSMENT_DB_PASSWORD
\getenv forecast_password STYRKEDJA_FORECAST_DB_PASSWORD
\getenv lika_password STYRKEDJA_LIKA_DB_PASSWORD
\getenv reporting_password STYRKEDJA_REPORTING_DB_PASSWORD

-- Each database compares text in code point order by memcmp (the builtin provider's C.UTF-8, PostgreSQL 17+),
-- not by libc's strcoll: the order of C.UTF-8, with less CPU per sort and index build (as the devstack's).

-- The maintenance database is for the superuser only.
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;

CREATE ROLE styrkedja_assessment LOGIN PASSWORD :'assessment_password';
CREATE DATABASE styrkedja_assessment OWNER styrkedja_assessment
    TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8';
REVOKE ALL ON DATABASE styrkedja_assessment FROM PUBLIC;

CREATE ROLE styrkedja_forecast LOGIN PASSWORD :'forecast_password';
CREATE DATABASE styrkedja_forecast OWNER styrkedja_forecast
    TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8';
REVOKE ALL ON DATABASE styrkedja_forecast FROM PUBLIC;

CREATE ROLE styrkedja_lika LOGIN PASSWORD :'lika_password';
CREATE DATABASE styrkedja_lika OWNER styrkedja_lika
    TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8';
REVOKE ALL ON DATABASE styrkedja_lika FROM PUBLIC;

CREATE ROLE styrkedja_reporting LOGIN PASSWORD :'reporting_password';
CREATE DATABASE styrkedja_reporting OWNER styrkedja_reporting
    TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8';
REVOKE ALL ON DATABASE styrkedja_reporting FROM PUBLIC;

-- The tracking database lives beside (never inside) Airflow's metadata database.
CREATE USER pwatch WITH PASSWORD 'pwatch';
CREATE DATABASE pwatch OWNER pwatch;

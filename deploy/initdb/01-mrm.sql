-- The metrics history lives in its own database next to Airflow's metadata (run once by postgres).
CREATE DATABASE mrm;

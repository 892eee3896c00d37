"""A small metrics service: FastAPI + pandas + psycopg2 (bench/app of strata)."""

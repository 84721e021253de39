"""Say clearly which service the tests need is missing, and how to start it."""

import os
import sys

import psycopg
import redis
from psycopg import sql

HOW = (
    "Start it with `docker compose up -d postgres redis`, or on a Debian machine with\n"
    "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
    '  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n'
    "or point DATABASE_URL / CELERY_BROKER_URL at running servers."
)


def create_database(database_url: str) -> None:
    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}.")


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    broker_url = os.environ["CELERY_BROKER_URL"]
    missing = []
    try:
        # The server, not the database: the tests create their own.
        base, _, _ = database_url.rpartition("/")
        psycopg.connect(f"{base}/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        missing.append(f"PostgreSQL is not reachable at {database_url.split('@')[-1]}: {exc}".strip())
    try:
        redis.Redis.from_url(broker_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        missing.append(f"Redis is not reachable at {broker_url.split('@')[-1]}: {exc}")
    if missing:
        print("\n".join(missing), file=sys.stderr)
        print(HOW, file=sys.stderr)
        return 3
    if "--create-db" in sys.argv:
        create_database(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Apply ``migrations/NNNN_name.sql`` in order, each once (Fly's release command).

    python -m app.migrate [--list]

Each file runs in its own transaction and is recorded in
``schema_migrations``; files already recorded are skipped, so running it
again is safe. ``DATABASE_URL`` names the database.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import psycopg

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(folder: Path = MIGRATIONS) -> list[Path]:
    """The migrations in order; ValueError when a name or the numbering is wrong."""
    files = sorted(folder.glob("*.sql"))
    for expected, path in enumerate(files, start=1):
        match = NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: migrations are named NNNN_what.sql")
        if int(match.group(1)) != expected:
            raise ValueError(f"{path.name}: expected number {expected:04d} (no gaps, no repeats)")
        if not path.read_text().strip():
            raise ValueError(f"{path.name}: empty")
    return files


def migrate(dsn: str, folder: Path = MIGRATIONS) -> list[str]:
    """Apply the pending migrations; their names."""
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for path in migration_files(folder):
            if path.name in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text())  # trusted: a file of this repository
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
            applied.append(path.name)
    return applied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="only list the migrations")
    args = parser.parse_args()
    if args.list:
        for path in migration_files():
            print(path.name)
        return 0
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    applied = migrate(dsn)
    print(f"migrations applied: {len(applied)}" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

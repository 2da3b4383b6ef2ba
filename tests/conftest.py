"""Shared fixtures: real database servers for multi-worker storage tests.

PostgreSQL, MariaDB/MySQL and Redis tests use the servers named by ``HPABLATE_TEST_POSTGRES``,
``HPABLATE_TEST_MYSQL`` and ``HPABLATE_TEST_REDIS`` (URLs), falling back to the local defaults.
Where no server answers they skip with the reason — unless ``HPABLATE_REQUIRE_SERVERS=1`` (set by
``.ci/run``), which turns an unreachable server into a failure.
"""

from __future__ import annotations

import os
import uuid

import optuna
import pytest

optuna.logging.set_verbosity(optuna.logging.WARNING)

DEFAULTS = {
    "postgres": "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
    "redis": "redis://127.0.0.1:6379/15",
}


def _required() -> bool:
    return os.environ.get("HPABLATE_REQUIRE_SERVERS", "") == "1"


def _unavailable(kind: str, url: str, exc: Exception) -> None:
    message = f"{kind} server at {url} is not reachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    if _required():
        pytest.fail(message)
    pytest.skip(message)


def _rdb_url(kind: str) -> str:
    url = os.environ.get(f"HPABLATE_TEST_{kind.upper()}", DEFAULTS[kind])
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        _unavailable(kind, url, exc)
    return url


@pytest.fixture
def postgres_url() -> str:
    return _rdb_url("postgres")


@pytest.fixture
def mysql_url() -> str:
    return _rdb_url("mysql")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("HPABLATE_TEST_REDIS", DEFAULTS["redis"])
    try:
        import redis

        redis.Redis.from_url(url).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("redis", url, exc)
    return url


@pytest.fixture
def unique_name() -> str:
    """A study name no other test (or earlier run on a shared server) uses."""
    return f"test-{uuid.uuid4().hex[:12]}"

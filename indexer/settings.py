"""The one settings object of the ledger's services, read from `LEDGER_*` environment variables (and a
`.env` file in the working directory), with defaults that run the local demo stack as it is."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.contracts import PROJECT_ROOT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of a ledger node")
    network: str = Field("anvil-local", description="the deployment to follow: deployments/<network>.json")
    deployments_dir: Path = Field(PROJECT_ROOT / "deployments", description="where deployment files live")
    database_url: str = Field(
        f"sqlite:///{PROJECT_ROOT / '.data' / 'mirror.sqlite3'}",
        description="the mirror: a SQLite file or postgresql+psycopg://user:pass@host/db",
    )
    confirmations: int = Field(0, ge=0, description="blocks to stay behind the head")
    poll_interval: float = Field(0.5, gt=0, description="seconds between head polls when caught up")
    max_block_span: int = Field(50_000, ge=1, description="largest eth_getLogs block range")
    reorg_window: int = Field(
        64, ge=1, description="blocks behind the head that may still be reorganised (journaled for rollback)"
    )
    rpc_timeout: float = Field(30.0, gt=0, description="seconds before an RPC call counts as failed")
    metrics_port: int | None = Field(None, description="serve Prometheus metrics on this port")


def settings_problems(exc: ValidationError) -> str:
    """A settings object's validation errors in one line, each named by its environment variable."""
    return "; ".join(f"LEDGER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())

"""Fixtures for the content-store suites: a local store in the test's folder, and one js-ipfs daemon for the
session (`toolchain/ipfs_daemon.py`) on its own port, by default 5091 (`LEDGER_TEST_IPFS_PORT`), so it never
meets a daemon on 5001. Without js-ipfs installed the daemon tests fail, saying to run `./dev setup`, rather
than being skipped.
"""

from __future__ import annotations

import os

import pytest

from ledger_api.content import KuboStore, LocalStore
from toolchain.ipfs_daemon import IpfsDaemonError, start_daemon

def pytest_configure(config):
    # ipfshttpclient 0.7 passes urllib3 a parameter urllib3 2 only warns about.
    config.addinivalue_line("filterwarnings", "ignore:The 'strict' parameter is no longer needed:FutureWarning")


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "content")


@pytest.fixture(scope="session")
def ipfs_daemon(tmp_path_factory):
    port = int(os.environ.get("LEDGER_TEST_IPFS_PORT", "5091"))
    try:
        daemon = start_daemon(tmp_path_factory.mktemp("ipfs") / "repo", api_port=port)
    except IpfsDaemonError as exc:
        pytest.fail(str(exc))
    with daemon:
        yield daemon


@pytest.fixture
def kubo_store(ipfs_daemon, tmp_path) -> KuboStore:
    return KuboStore(ipfs_daemon.multiaddr, tmp_path / "content-types.sqlite3")


@pytest.fixture(params=["local", "kubo"])
def store(request):
    """Each store in turn, for behaviour both must share."""
    return request.getfixturevalue(f"{request.param}_store")

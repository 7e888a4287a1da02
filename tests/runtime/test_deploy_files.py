"""The production profile's files (deploy/) name only what the project has: every systemd unit runs a command
the project's command lines really offer, with options they really take, every setting in the environment
file is a field of the settings object (or one uvicorn reads), the example refuses to start until its
secrets are filled in, the API's replicas start after the database and the indexer, nginx passes the headers
the API reads and balances over the replicas' ports, `nginx -t` accepts its configuration (nginx 1.22, Debian
12's), and `systemd-analyze verify` accepts the units."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main
from pydantic import ValidationError

from ledger_api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALL_ROOT = "/opt/ledger"  # where the units expect the checkout and its .venv
# Read from the environment file by something other than the ledger's settings, and why.
OTHER_VARIABLES = {"FORWARDED_ALLOW_IPS": "uvicorn: the proxies whose X-Forwarded-For it believes"}
SETTING_NAMES = {f"LEDGER_{name.upper()}" for name in Settings.model_fields}


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(path)
    return parser


def commands(path: Path) -> list[list[str]]:
    """ExecStartPre= and ExecStart= of a unit, split as systemd splits them (repeated keys included)."""
    found = []
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("ExecStartPre", "ExecStart"):
            found.append(shlex.split(value.lstrip("-+!@:")))
    return found


def typer_command(app, name: str):
    return typer.main.get_command(app).commands.get(name)


def environment_file() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "ledger.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_there_is_a_unit_for_the_indexer_an_api_replica_and_a_besu_node():
    assert [p.name for p in UNITS] == ["besu@.service", "ledger-api@.service", "ledger-indexer.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_unit_reads_the_environment_file_restarts_and_is_hardened(path):
    service = unit(path)["Service"]
    assert service["EnvironmentFile"] == "/etc/ledger/ledger.env"
    assert service["Restart"] in ("always", "on-failure")
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"].startswith("/var/lib/")
    assert service["User"] != "root"
    assert unit(path)["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_command_a_unit_runs_is_one_the_project_offers_with_options_it_takes(path):
    from indexer.cli import app as indexer_app
    from ledger_api.cli import app as api_app
    from scripts.network import app as network_app

    apps = {"indexer": indexer_app, "ledger-api": api_app}
    scripts = {"scripts/network.py": network_app}
    checked = 0
    for argv in commands(path):
        program = argv[0]
        if program == "/usr/bin/besu":  # not the project's: installed from Besu's release
            assert argv[1] == "--config-file=/etc/ledger/network/nodes/%i/config.toml"
            continue
        assert program.startswith(f"{INSTALL_ROOT}/.venv/bin/"), program
        name = program.rsplit("/", 1)[1]
        if name == "python":
            script = argv[1].removeprefix(f"{INSTALL_ROOT}/")
            assert (ROOT / script).is_file(), script
            app, rest = scripts[script], argv[2:]
        else:
            assert (ROOT / ".venv" / "bin" / name).is_file(), name
            app, rest = apps[name], argv[1:]
        command = typer_command(app, rest[0])
        assert command is not None, f"{name} has no command {rest[0]}"
        options = {opt for param in command.params for opt in param.opts}
        assert {arg for arg in rest[1:] if arg.startswith("--")} <= options, (rest, options)
        checked += 1
    assert checked >= 1


def test_every_variable_the_deployment_sets_is_a_setting_the_project_reads():
    named = set(environment_file())
    for path in UNITS:
        service = unit(path)["Service"]
        named |= {assignment.split("=", 1)[0] for assignment in shlex.split(service.get("Environment", ""))}
    unknown = {name for name in named if name not in SETTING_NAMES and name not in OTHER_VARIABLES}
    assert not unknown, f"not settings of ledger_api/settings.py: {sorted(unknown)}"
    # Every setting a production install must choose is in the example.
    assert {"LEDGER_ENVIRONMENT", "LEDGER_DATABASE_URL", "LEDGER_BRAND_DATABASE_URL", "LEDGER_TOKEN_SECRET",
            "LEDGER_KEYSTORE_PASSWORD", "LEDGER_SIWE_DOMAIN", "LEDGER_PUBLIC_URL", "LEDGER_RPC_URL"} <= named


def test_the_example_refuses_to_start_until_its_secrets_are_filled_in_and_then_validates(monkeypatch):
    values = {k: v for k, v in environment_file().items() if k in SETTING_NAMES}
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT / "deploy")  # no .env of the checkout's own
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="LEDGER_TOKEN_SECRET"):
        Settings()
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", "a-secret-of-the-operators-own-of-48-characters-x")
    monkeypatch.setenv("LEDGER_KEYSTORE_PASSWORD", "the-operators-keystore-password")
    settings = Settings()
    assert settings.environment == "production" and settings.api_host == "127.0.0.1"
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_api_replicas_start_after_the_database_and_the_indexer_without_stopping_with_it():
    api = unit(DEPLOY / "systemd" / "ledger-api@.service")
    after = api["Unit"]["After"].split()
    assert "postgresql.service" in after and "ledger-indexer.service" in after
    assert "ledger-indexer.service" not in api["Unit"].get("Requires", "").split()
    assert api["Service"]["Environment"] == "LEDGER_API_PORT=%i"
    indexer = unit(DEPLOY / "systemd" / "ledger-indexer.service")
    assert "postgresql.service" in indexer["Unit"]["After"].split()


def test_nginx_balances_over_the_replicas_and_sets_the_headers_the_api_reads():
    conf = (DEPLOY / "nginx" / "ledger.conf").read_text()
    upstream = re.search(r"upstream ledger_api \{(.*?)\}", conf, re.S).group(1)
    assert "least_conn;" in upstream
    servers = re.findall(r"server 127\.0\.0\.1:(\d+) max_fails=\d+ fail_timeout=\d+s;", upstream)
    assert len(servers) >= 2 and all(8000 < int(port) < 9000 for port in servers)
    defaults = Settings(environment="development")
    headers = {name.lower() for name in re.findall(r"proxy_set_header ([\w-]+) ", conf)}
    assert {defaults.scan_region_header, defaults.scan_place_header, "x-forwarded-for", "host"} <= headers
    assert "location = /ready" in conf and "limit_req zone=ledger_scans" in conf


def test_nginx_accepts_the_configuration(tmp_path):
    nginx = os.environ.get("LEDGER_TEST_NGINX") or shutil.which("nginx")
    if not nginx:
        pytest.fail("no nginx: run the tests with ./dev test, which unpacks one into .data/nginx")
    # The configuration as an http block of a main file whose paths (pid, logs, temp files, the certificate)
    # are the test's own, so nginx checks it without root and without the production machine's files.
    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                           "/CN=ledger.example.com", "-keyout", str(key), "-out", str(certificate)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    conf = (DEPLOY / "nginx" / "ledger.conf").read_text()
    conf = conf.replace("/etc/ledger/tls/fullchain.pem", str(certificate)).replace("/etc/ledger/tls/privkey.pem", str(key))
    temp_paths = "".join(f"    {kind}_temp_path {tmp_path / kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path / 'nginx.pid'};\nevents {{}}\nhttp {{\n    access_log {tmp_path / 'access.log'};\n"
                    f"{temp_paths}{conf}\n}}\n")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(main)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # Verified as installed from this checkout; Besu is not installed here, so its binary is stood in for.
    instances = {"ledger-indexer.service": "ledger-indexer.service", "ledger-api@.service": "ledger-api@8001.service",
                 "besu@.service": "besu@validator-1.service"}
    for path in UNITS:
        text = path.read_text().replace(INSTALL_ROOT, str(ROOT)).replace("/usr/bin/besu", shutil.which("true"))
        (tmp_path / instances[path.name]).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(instances.values())], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr

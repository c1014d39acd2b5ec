"""The deployment files: docker-compose.yaml is valid (checked by `docker-compose config`, which needs
no Docker engine), every Airflow service runs the image of ./Dockerfile pinned to the Airflow and Python
of requirements.txt, and every command it runs exists. Least privilege: no service but the postgres
image's initdb holds the superuser, the Airflow services use the app role mrm_app, every secret is
required (no default) and the start-up check refuses the placeholder `change-me`, every published port
is bound to 127.0.0.1, Redis needs a password."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess

import pytest
import yaml
from support import REPO

from mrm.cli import parser

COMPOSE = shutil.which("docker-compose")
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init", "demo-data"}  # fmt: skip
SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_ADMIN_PASSWORD",
           "POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "MRM_ADMIN_DB_PASSWORD", "MRM_APP_DB_PASSWORD",
           "REDIS_PASSWORD", "AIRFLOW_CONN_MRM_CHAIN_KEY", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY")  # fmt: skip
VALUES = {name: f"test-{name.lower().replace('_', '-')}-0123456789" for name in SECRETS}
CHECK = REPO / "deploy" / "check-secrets.sh"
COMPOSE_TEXT = (REPO / "docker-compose.yaml").read_text()


def compose_config(tmp_path, values: dict[str, str]) -> subprocess.CompletedProcess:
    """`docker-compose config` with these variables in an env file (and no others from the caller)."""
    if COMPOSE is None:
        pytest.skip("docker-compose not installed (apt-get install -y docker-compose) to validate the file")
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run([COMPOSE, "--env-file", str(env_file), "config"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    out = compose_config(tmp_path_factory.mktemp("compose"), VALUES)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_the_compose_file_is_valid_and_has_every_component(config):
    assert set(config["services"]) == AIRFLOW_SERVICES | {"postgres", "redis", "s3", "mrm-init"}
    commands = {name: config["services"][name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == ["api-server"] or commands["airflow-apiserver"] == "api-server"
    assert "celery" in str(commands["airflow-worker"]) and "worker" in str(commands["airflow-worker"])


def test_every_airflow_service_runs_the_project_image_with_celery_on_redis_and_postgres(config):
    for name in AIRFLOW_SERVICES:
        service = config["services"][name]
        assert service["build"]["context"] == str(REPO), name
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert env["MRM_DB_URL"].endswith("@postgres/mrm")  # its own database, created by deploy/initdb
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env
    assert "CREATE DATABASE mrm" in (REPO / "deploy" / "initdb" / "01-mrm.sh").read_text()


def test_the_image_pins_the_airflow_and_python_of_requirements():
    dockerfile = (REPO / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    pinned = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert base == f"apache/airflow:{pinned}-python3.11"
    assert "pip install" in dockerfile and "-c /opt/mrm/constraints.txt" in dockerfile


def test_the_commands_the_services_run_exist(config):
    upgrade = config["services"]["mrm-init"]["entrypoint"]
    assert upgrade[:2] == ["/opt/mrm/deploy/check-secrets.sh", "mrm"]
    args = parser().parse_args(upgrade[2:])  # "mrm db upgrade --app-password-env MRM_APP_DB_PASSWORD"
    assert (args.command, args.action, args.app_password_env) == ("db", "upgrade", "MRM_APP_DB_PASSWORD")
    assert (args.owner_role, args.app_role) == ("mrm_owner", "mrm_app")
    init = config["services"]["airflow-init"]
    assert (
        init["entrypoint"][0] == "/opt/mrm/deploy/check-secrets.sh"
        and "airflow db migrate" in init["command"][-1]
    )
    load = config["services"]["demo-data"]["entrypoint"]
    args = parser().parse_args(load[2:])  # "mrm demo --load-to s3://mrm-demo"
    assert load[:2] == ["/opt/mrm/deploy/check-secrets.sh", "mrm"]
    assert (args.command, args.load_to) == ("demo", "s3://mrm-demo")


def test_env_example_documents_every_variable_the_compose_file_substitutes():
    compose = (REPO / "docker-compose.yaml").read_text()
    example = (REPO / ".env.example").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?::[-?][^}]*)?\}", compose))  # $${X}: the container's
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, re.M))
    assert used - documented == set()


def test_the_distribution_has_a_name_of_its_own_and_installs_the_mrm_command():
    """`mrm` on PyPI is an unrelated project: the distribution is named otherwise, the import package
    and the command stay `mrm`, and the Dockerfile installs this project's distribution."""
    import importlib.metadata
    import tomllib

    name = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["name"]
    assert name == "mrm-airflow"
    dist = importlib.metadata.distribution(name)
    assert {(ep.name, ep.value) for ep in dist.entry_points if ep.group == "console_scripts"} == {
        ("mrm", "mrm.cli:main")
    }
    assert "mrm-airflow" in (REPO / "Dockerfile").read_text()


# -- least privilege and no default secrets -------------------------------------------------------------
def _postgres_user(url: str) -> str | None:
    found = re.match(r"^[a-z0-9+]*postgresql[a-z0-9+]*://([^:@/]+)", url)
    return found.group(1) if found else None


def test_no_service_but_initdb_holds_the_superuser_and_the_airflow_services_use_the_app_role(config):
    services = config["services"]
    superuser_password = VALUES["POSTGRES_PASSWORD"]
    for name, service in services.items():
        env = service.get("environment") or {}
        users = {_postgres_user(v) for v in env.values() if isinstance(v, str)} - {None}
        assert "postgres" not in users, name
        if name != "postgres":
            assert all(superuser_password not in str(v) for v in env.values()), name
        if name in AIRFLOW_SERVICES:
            assert _postgres_user(env["MRM_DB_URL"]) == "mrm_app", name
            assert VALUES["MRM_ADMIN_DB_PASSWORD"] not in json.dumps(env), name  # the admin's: mrm-init only
    assert _postgres_user(services["mrm-init"]["environment"]["MRM_DB_URL"]) == "mrm_admin"
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "postgres"
    initdb = (REPO / "deploy" / "initdb" / "01-mrm.sh").read_text()
    assert "CREATE ROLE mrm_admin LOGIN CREATEROLE PASSWORD" in initdb and "SUPERUSER" not in initdb
    assert "CREATE ROLE airflow LOGIN PASSWORD" in initdb


@pytest.mark.parametrize("name", SECRETS)
def test_every_secret_is_required_and_has_no_default(tmp_path, name):
    uses = re.findall(rf"\$\{{{name}(:?[-?]?)[^}}]*\}}", COMPOSE_TEXT)
    assert uses and set(uses) == {":?"}, f"{name}: {uses}"
    out = compose_config(tmp_path, {k: v for k, v in VALUES.items() if k != name})
    assert out.returncode != 0 and f"set {name} in .env" in out.stderr


def test_no_variable_that_looks_secret_has_a_default_and_no_secret_is_written_in_the_file():
    defaults = re.findall(r"\$\{([A-Z0-9_]+):-([^}]*)\}", COMPOSE_TEXT)
    secret_like = [(k, v) for k, v in defaults if re.search(r"SECRET|PASSWORD|FERNET|TOKEN|CHAIN_KEY", k)]
    assert secret_like == []
    assert [v for k, v in defaults if k.startswith("AIRFLOW_CONN_") and v] == []  # optional, empty default
    settings = re.sub(r"(?m)^\s*#.*$", "", COMPOSE_TEXT)  # comments may name the placeholder
    for literal in ("change-me", "airflow:airflow@", "POSTGRES_PASSWORD: airflow", "redis://:@"):
        assert literal not in settings


def test_every_published_port_is_bound_to_loopback(config):
    published = {name: s.get("ports", []) for name, s in config["services"].items() if s.get("ports")}
    assert set(published) == {"airflow-apiserver", "s3"}
    for name, ports in published.items():
        for port in ports:
            text = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
            assert text.startswith("127.0.0.1:"), (name, port)


def test_redis_requires_the_password_the_broker_url_carries(config):
    redis = config["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"]) and "$$REDIS_PASSWORD" in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"] == VALUES["REDIS_PASSWORD"]
    broker = config["services"]["airflow-worker"]["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker == f"redis://:{VALUES['REDIS_PASSWORD']}@redis:6379/0"


def test_the_image_runs_the_start_up_check_before_airflows_entrypoint():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert (
        'ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/mrm/deploy/check-secrets.sh", "/entrypoint"]'
        in dockerfile
    )
    assert "COPY --chown=airflow:root deploy/check-secrets.sh /opt/mrm/deploy/check-secrets.sh" in dockerfile
    assert CHECK.stat().st_mode & stat.S_IXUSR


def run_check(env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([str(CHECK), *command], env={**base, **env}, capture_output=True, text=True,
                          timeout=30)  # fmt: skip


REQUIRED = "AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__CORE__FERNET_KEY AIRFLOW_CONN_MRM_CHAIN_KEY"
GOOD = {"MRM_REQUIRED_SECRETS": REQUIRED, "AIRFLOW__API_AUTH__JWT_SECRET": "j" * 32,
        "AIRFLOW__CORE__FERNET_KEY": "f" * 44,
        "AIRFLOW_CONN_MRM_CHAIN_KEY": '{"password": "k0123456789abcdef"}'}  # fmt: skip


def test_start_up_runs_the_command_when_every_secret_is_set():
    out = run_check(GOOD, "sh", "-c", "echo started")
    assert (out.returncode, out.stdout, out.stderr) == (0, "started\n", "")


@pytest.mark.parametrize(
    ("name", "value"),
    [("AIRFLOW__API_AUTH__JWT_SECRET", "change-me"), ("AIRFLOW__CORE__FERNET_KEY", "Change-Me"),
     ("MRM_DB_URL", "postgresql+psycopg://mrm_app:change-me@postgres/mrm"),
     ("AIRFLOW_CONN_MRM_CHAIN_KEY", '{"conn_type": "generic", "password": "change-me"}')],
)  # fmt: skip
def test_start_up_refuses_the_placeholder_change_me_in_one_line(name, value):
    out = run_check({**GOOD, name: value}, "sh", "-c", "echo started")
    assert out.returncode == 1 and out.stdout == ""
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"mrm: refusing to start: {name} holds the placeholder change-me")
    assert value not in line or value == "change-me"  # names the variable, never prints a URL or key


def test_start_up_refuses_a_missing_required_secret_and_the_env_example_as_copied():
    out = run_check({k: v for k, v in GOOD.items() if k != "AIRFLOW__CORE__FERNET_KEY"}, "true")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "mrm: refusing to start: AIRFLOW__CORE__FERNET_KEY is not set; put a long random value in .env "
        "(docs/DEPLOYING.md)"
    ]
    example = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", (REPO / ".env.example").read_text(), re.M))
    out = run_check({"MRM_REQUIRED_SECRETS": REQUIRED, **example}, "true")
    assert out.returncode == 1 and "holds the placeholder change-me" in out.stderr


def test_start_up_writes_the_admin_password_for_airflow_to_read(tmp_path):
    passwords = tmp_path / "passwords.json"
    env = {**GOOD, "AIRFLOW_ADMIN_PASSWORD": 'p@ss"word',
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "root:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords)}  # fmt: skip
    out = run_check(env, "true")
    assert out.returncode == 0, out.stderr
    assert json.loads(passwords.read_text()) == {"root": 'p@ss"word'}
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600 and "p@ss" not in out.stdout + out.stderr


def test_initdb_refuses_the_placeholder_before_creating_anything():
    script = REPO / "deploy" / "initdb" / "01-mrm.sh"
    env = {"PATH": os.environ["PATH"], "POSTGRES_USER": "postgres", "AIRFLOW_DB_PASSWORD": "change-me",
           "MRM_ADMIN_DB_PASSWORD": "x" * 24}  # fmt: skip
    out = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "initdb: refusing: AIRFLOW_DB_PASSWORD is not set or is the placeholder change-me; set it in .env"
    ]

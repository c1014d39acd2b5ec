"""The deployment files: docker-compose.yaml is valid (checked by `docker-compose config`, which needs
no Docker engine), every Airflow service runs the image of ./Dockerfile pinned to the Airflow and Python
of requirements.txt, and every command it runs exists."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from support import REPO

from mrm.cli import parser

COMPOSE = shutil.which("docker-compose")
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init", "demo-data"}  # fmt: skip


@pytest.fixture(scope="module")
def config() -> dict:
    if COMPOSE is None:
        pytest.skip("docker-compose not installed (apt-get install -y docker-compose) to validate the file")
    out = subprocess.run([COMPOSE, "config"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_the_compose_file_is_valid_and_has_every_component(config):
    assert set(config["services"]) == AIRFLOW_SERVICES | {"postgres", "redis", "s3"}
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
    assert "CREATE DATABASE mrm" in (REPO / "deploy" / "initdb" / "01-mrm.sql").read_text()


def test_the_image_pins_the_airflow_and_python_of_requirements():
    dockerfile = (REPO / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    pinned = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert base == f"apache/airflow:{pinned}-python3.11"
    assert "pip install" in dockerfile and "-c /opt/mrm/constraints.txt" in dockerfile


def test_the_commands_the_services_run_exist(config):
    init = config["services"]["airflow-init"]["command"]
    script = init[-1] if isinstance(init, list) else init
    assert "mrm db upgrade" in script
    load = config["services"]["demo-data"]["entrypoint"]
    args = parser().parse_args(load[1:])  # "mrm demo --load-to s3://mrm-demo"
    assert (args.command, args.load_to) == ("demo", "s3://mrm-demo")


def test_env_example_documents_every_variable_the_compose_file_substitutes():
    compose = (REPO / "docker-compose.yaml").read_text()
    example = (REPO / ".env.example").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", compose))  # $${X}: the container's
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

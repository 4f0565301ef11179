"""What can be checked of the deployment without a Docker engine on this machine."""

import json
import re
from pathlib import Path

import yaml

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.server.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
README = (ROOT / "README.md").read_text()


def test_every_variable_the_compose_file_sets_is_a_setting_the_service_knows():
    known = {name.upper() for name in Settings.model_fields}
    for name, service in COMPOSE["services"].items():
        if "build" not in service:
            continue
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which sessiongraph does not read"


def test_migrations_run_before_the_service_starts():
    service = COMPOSE["services"]["sessiongraph"]

    assert COMPOSE["services"]["migrate"]["command"] == ["sessiongraph", "migrate"]
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def sessiongraph_commands():
    commands = [c for c in (s.get("command") for s in COMPOSE["services"].values()) if c]
    commands.append(json.loads(re.search(r"^CMD (.*)$", DOCKERFILE, re.M).group(1)))
    return [c for c in commands if c[0] == "sessiongraph"]


def test_the_commands_the_images_run_exist_and_are_in_the_readme():
    for command in sessiongraph_commands():
        assert command[1] in COMMANDS
        assert f"sessiongraph {command[1]}" in README
        for flag in (arg for arg in command if arg.startswith("--")):
            assert flag in README, f"{flag} is not documented"


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE

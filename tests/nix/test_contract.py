"""The images run commands that exist: nix/contract.json is the one source of the image
contract; Nix builds each image's config from it (nix/image-config.nix, evaluated here) and
every command in that config must parse as a `fragrance-ai` command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fragrance_ai.cli.main import _parser
from fragrance_ai.settings import Settings
from tests.nix.helpers import ROOT, nix_eval

CONTRACT: dict[str, Any] = json.loads((ROOT / "nix" / "contract.json").read_text())
EXECUTABLE = "/nix/store/00000000000000000000000000000000-fragrance-ai-0.1.0/bin/fragrance-ai"
NANOSECONDS = 1_000_000_000


def _parses(arguments: list[str]) -> bool:
    try:
        _parser().parse_args(arguments)
    except SystemExit:
        return False
    return True


def test_the_contract_names_the_three_images() -> None:
    assert set(CONTRACT["images"]) == {"api", "worker-llm", "worker-rl"}
    assert CONTRACT["program"] == "fragrance-ai"


@pytest.mark.parametrize("image", sorted(CONTRACT["images"]))
def test_commands_are_real_subcommands(image: str) -> None:
    spec = CONTRACT["images"][image]
    assert _parses(spec["command"]), spec["command"]
    assert _parses(spec["healthcheck"]), spec["healthcheck"]
    assert spec["healthcheck"][0] == "healthcheck"


def test_a_wrong_command_would_be_caught() -> None:
    assert not _parses(["worker", "gpu"])
    assert not _parses(["healthcheck", "database"])


def test_health_checks_check_the_component_each_image_runs() -> None:
    images = CONTRACT["images"]
    assert images["api"]["healthcheck"] == ["healthcheck", "api"]
    for kind in ("llm", "rl"):
        spec = images[f"worker-{kind}"]
        assert spec["command"] == ["worker", kind]
        assert spec["healthcheck"] == ["healthcheck", "worker", kind]


def test_the_api_listens_where_the_image_exposes_and_the_health_check_looks() -> None:
    environment = CONTRACT["environment"]
    assert CONTRACT["images"]["api"]["ports"] == [int(environment["API_PORT"])]
    # A wildcard bind address: the health check then connects to 127.0.0.1 (healthcheck.py).
    assert environment["API_HOST"] == "0.0.0.0"
    assert Settings.model_fields["api_port"].default == int(environment["API_PORT"])
    assert environment["DATA_DIR"] == CONTRACT["dataDir"]


def test_only_the_api_image_goes_without_the_ml_libraries() -> None:
    assert {name: spec["ml"] for name, spec in CONTRACT["images"].items()} == {
        "api": False,
        "worker-llm": True,
        "worker-rl": True,
    }


def _image_config(image: str, variant: str) -> dict[str, Any]:
    config = nix_eval(
        f"""import ./nix/image-config.nix {{
          contract = builtins.fromJSON (builtins.readFile ./nix/contract.json);
          image = "{image}";
          executable = "{EXECUTABLE}";
          version = "0.1.0";
          revision = "abc1234";
          variant = "{variant}";
        }}"""
    )
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("image", sorted(CONTRACT["images"]))
def test_the_image_config_nix_builds_runs_the_contract(image: str) -> None:
    spec = CONTRACT["images"][image]
    config = _image_config(image, "cpu")
    assert config["Entrypoint"] == [EXECUTABLE]
    assert config["Cmd"] == spec["command"]
    assert _parses(config["Cmd"])
    test = config["Healthcheck"]["Test"]
    assert test[:2] == ["CMD", EXECUTABLE]
    assert _parses(test[2:])
    assert config["ExposedPorts"] == {f"{port}/tcp": {} for port in spec["ports"]}
    assert config["User"] == "10001:10001"
    assert config["WorkingDir"] == CONTRACT["dataDir"]
    assert config["Labels"]["org.opencontainers.image.version"] == "0.1.0"
    assert config["Labels"]["org.opencontainers.image.revision"] == "abc1234"


def test_health_check_durations_are_nanoseconds() -> None:
    healthcheck = _image_config("worker-llm", "cpu")["Healthcheck"]
    assert healthcheck["Interval"] == CONTRACT["healthcheck"]["intervalSeconds"] * NANOSECONDS
    assert healthcheck["Timeout"] == CONTRACT["healthcheck"]["timeoutSeconds"] * NANOSECONDS
    start_period = CONTRACT["images"]["worker-llm"]["startPeriodSeconds"] * NANOSECONDS
    assert healthcheck["StartPeriod"] == start_period
    assert healthcheck["Retries"] == CONTRACT["healthcheck"]["retries"]


def test_only_cuda_images_carry_the_nvidia_environment() -> None:
    cpu = _image_config("worker-rl", "cpu")
    cuda = _image_config("worker-rl", "cuda")
    assert not any(entry.startswith("NVIDIA_") for entry in cpu["Env"])
    assert "NVIDIA_VISIBLE_DEVICES=all" in cuda["Env"]
    assert set(cpu["Env"]) < set(cuda["Env"])
    assert cuda["Labels"]["ai.fragrance.variant"] == "cuda"

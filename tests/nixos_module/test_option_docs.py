"""The options as the NixOS manual renders them (lib.optionAttrSetToDocList): every option is
described, and every default renders, without evaluating a host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.nixos_module.conftest import eval_expression, nixpkgs_lib

MODULE = Path(__file__).resolve().parents[2] / "modules" / "fragrance-ai"


def option_docs() -> list[dict[str, Any]]:
    expression = f"""
      let
        lib = import {nixpkgs_lib()};
        evaluated = lib.evalModules {{
          modules = [ {MODULE} {{ _module.args.pkgs = {{ }}; _module.check = false; }} ];
        }};
      in
      map (o: {{ inherit (o) name type description visible; default = o.default or null; }})
        (lib.filter (o: lib.hasPrefix "services.fragrance-ai." o.name)
          (lib.optionAttrSetToDocList evaluated.options))
    """
    docs: list[dict[str, Any]] = eval_expression(expression)
    return [option for option in docs if "._module." not in option["name"]]


def test_every_option_is_documented_with_a_rendered_default() -> None:
    docs = option_docs()
    names = {option["name"].removeprefix("services.fragrance-ai.") for option in docs}
    # The whole interface; test_module.py exercises each of these.
    unit = ["cpuQuota", "limitNOFILE", "memoryMax", "startTimeoutSec", "stopTimeoutSec"]
    unit += ["tasksMax", "watchdogSec"]
    group = ["enable", "environment", "gpu", "gpuDevices", "metricsPort", "package", "queues"]
    group += ["replicas"]
    assert names == {
        *("enable", "package", "cudaPackage", "profile", "settings", "secretsFile"),
        *("openFirewall", "workers"),
        *("user", "group", "dataDir"),
        *(f"api.{name}" for name in ["host", "port", "workers", "socketActivation", *unit]),
        *(f"workers.<name>.{name}" for name in group + unit),
        *("database.createLocally", "database.url", "database.backupBeforeMigrate"),
        *("redis.createLocally", "redis.url"),
        *("nginx.enable", "nginx.virtualHost", "nginx.enableACME", "nginx.forceSSL"),
        *("slice.memoryMax", "slice.cpuQuota"),
    }
    for option in docs:
        assert option["description"].strip(), option["name"]
        if option["name"].endswith(".package") or option["name"].endswith(".enable"):
            continue
        nullable = option["type"].startswith("null or")
        default = option["default"]
        assert default is not None, option["name"]
        if not nullable:
            assert default.get("text") != "null", option["name"]

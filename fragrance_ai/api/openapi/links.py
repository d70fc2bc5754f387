"""OpenAPI links: which answer's ids a client (or schemathesis' stateful phase) feeds into
which next call: a brief to its job and back, a job to its formulas, a formula to its
documents and variations, a choice to feedback."""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]

Link = tuple[str, str, dict[str, Any]]

_FORMULA_OPERATIONS = (
    ("Read", "get", "/v1/formulas/{formula_id}"),
    ("Certify", "get", "/v1/formulas/{formula_id}/ifra-certificate"),
    ("Declare", "get", "/v1/formulas/{formula_id}/allergen-declaration"),
    ("WeighOut", "get", "/v1/formulas/{formula_id}/weigh-out"),
    ("Vary", "post", "/v1/formulas/{formula_id}/variations"),
)


def _to_formula(pointer: str, suffix: str = "") -> dict[str, Link]:
    """Every operation on one formula, its id at `pointer` in the answer."""
    return {
        f"{name}{suffix}": (method, path, {"formula_id": f"$response.body#{pointer}"})
        for name, method, path in _FORMULA_OPERATIONS
    }


# (method, path, status) -> link name -> (method, path of the target, how to fill it in).
# Parameters map to runtime expressions; "requestBody" fills a body from the answer.
_LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    ("post", "/v1/briefs", "202"): {
        "ReadJob": ("get", "/v1/jobs/{job_id}", {"job_id": "$response.body#/job_id"}),
        "ReadBrief": ("get", "/v1/briefs/{brief_id}", {"brief_id": "$response.body#/brief_id"}),
    },
    ("get", "/v1/jobs/{job_id}", "200"): {
        "ReadBrief": (
            "get",
            "/v1/briefs/{brief_id}",
            {"brief_id": "$response.body#/result/brief_id"},
        ),
        **_to_formula("/result/formula_ids/0", "FirstFormula"),
    },
    ("get", "/v1/briefs/{brief_id}", "200"): {
        **_to_formula("/formula_ids/0", "FirstOption"),
        "ChooseFirstOption": (
            "post",
            "/v1/feedback",
            {
                "requestBody": {
                    "brief_id": "$response.body#/id",
                    "chosen_id": "$response.body#/formula_ids/0",
                }
            },
        ),
    },
    ("get", "/v1/formulas/{formula_id}", "200"): {
        **{name: link for name, link in _to_formula("/id").items() if name != "Read"},
        "ReadBrief": ("get", "/v1/briefs/{brief_id}", {"brief_id": "$response.body#/brief_id"}),
    },
    ("get", "/v1/formulas", "200"): _to_formula("/items/0/id", "First"),
    ("post", "/v1/formulas/{formula_id}/variations", "201"): {
        "ReadSet": (
            "get",
            "/v1/variation-sets/{set_id}",
            {"set_id": "$response.body#/variation_set_id"},
        ),
        **_to_formula("/variations/0/formula_id", "FirstVariation"),
        "ChooseFirstVariation": (
            "post",
            "/v1/feedback",
            {
                "requestBody": {
                    "variation_set_id": "$response.body#/variation_set_id",
                    "chosen_id": "$response.body#/variations/0/formula_id",
                }
            },
        ),
    },
    ("post", "/v1/feedback", "201"): {
        "ReadChosen": (
            "get",
            "/v1/formulas/{formula_id}",
            {"formula_id": "$response.body#/chosen_id"},
        ),
    },
    ("post", "/v1/training-runs", "202"): {
        "ReadRun": (
            "get",
            "/v1/training-runs/{run_id}",
            {"run_id": "$response.body#/training_run_id"},
        ),
        "ReadJob": ("get", "/v1/jobs/{job_id}", {"job_id": "$response.body#/job_id"}),
    },
    ("get", "/v1/policies", "200"): {
        "ActivateFirst": (
            "post",
            "/v1/policies/{policy_id}/activate",
            {"policy_id": "$response.body#/policies/0/id"},
        ),
    },
    ("get", "/v1/ingredients", "200"): {
        "ReadFirst": ("get", "/v1/ingredients/{cas}", {"cas": "$response.body#/0/cas"}),
    },
}


def add_links(document: Document) -> None:
    """Adds the links whose both ends the document has, in place."""
    paths: dict[str, dict[str, Any]] = document.get("paths", {})
    for (method, path, status), links in _LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target_method, target_path, filling) in links.items():
            target = paths.get(target_path, {}).get(target_method)
            if target is None or "operationId" not in target:
                continue
            link: dict[str, Any] = {"operationId": target["operationId"]}
            parameters = {key: value for key, value in filling.items() if key != "requestBody"}
            if parameters:
                link["parameters"] = parameters
            if "requestBody" in filling:
                link["requestBody"] = filling["requestBody"]
            response.setdefault("links", {})[name] = link

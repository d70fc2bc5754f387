"""One batched, schema-constrained `generate` call on a loaded model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessorList

from fragrance_ai.llm.constrained import SchemaLogitsProcessor
from fragrance_ai.llm.grammars import GrammarCache
from fragrance_ai.llm.loading import LoadedModel

Chat = list[dict[str, str]]


@dataclass(frozen=True)
class Generation:
    texts: list[str]
    new_tokens: list[int]
    # Per row: the output completed a document of the schema (False when cut off).
    complete: list[bool]
    seconds: float
    timed_out: bool


def prompt_text(loaded: LoadedModel, chat: Chat) -> str:
    template = getattr(loaded.tokenizer, "chat_template", None)
    if template:
        text: str = loaded.tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=True
        )
        return text
    # A tokenizer with no chat template (a tiny test model): plain turns.
    return "".join(f"{turn['role']}: {turn['content']}\n" for turn in chat) + "assistant: "


def generate_json(
    loaded: LoadedModel,
    chats: list[Chat],
    schema: dict[str, Any],
    grammars: GrammarCache,
    *,
    max_new_tokens: int,
    temperature: float,
    timeout_s: float,
    seed: int,
) -> Generation:
    tokenizer, model = loaded.tokenizer, loaded.model
    prompts = [prompt_text(loaded, chat) for chat in chats]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    batch = {name: tensor.to(loaded.device) for name, tensor in batch.items()}
    eos = tokenizer.eos_token_id
    processor = SchemaLogitsProcessor(
        grammars.matchers(tokenizer, schema, len(chats)), len(tokenizer), eos
    )
    sampling: dict[str, Any] = {"do_sample": False}
    if temperature > 0:
        # Sampled roles are reproducible: the seed comes from the request.
        torch.manual_seed(seed)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95}
    started = time.perf_counter()
    with torch.inference_mode():
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            max_time=timeout_s,
            logits_processor=LogitsProcessorList([processor]),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
            top_k=None,
            **sampling,
        )
    seconds = time.perf_counter() - started
    generated = output[:, batch["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
    new_tokens = [int((row != tokenizer.pad_token_id).sum()) for row in generated]
    complete = processor.accepted()
    return Generation(
        texts=[text.strip() for text in texts],
        new_tokens=new_tokens,
        complete=complete,
        seconds=seconds,
        timed_out=seconds >= timeout_s and not all(complete),
    )

"""The LLM worker's brief reading: model loading, schema-constrained decoding, the ensemble's
roles and their merge with the deterministic parser, and what keeps it safe (JSON guard,
circuit breakers, downshift, cache). Imported by the LLM worker only: it brings torch."""

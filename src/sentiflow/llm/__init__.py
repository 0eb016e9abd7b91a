"""Stage 5, the `llm_compare` and `cascade` rules: local quantized instruction LLMs beside the encoders.

`scorer` asks a llama.cpp model for an item's label probabilities (no pandas); `cache` the score cache's key and
`store` its files, shared by every job on one machine or a cluster; `items` which sentences are asked and the
few-shot examples; `tags` the yes/no tag questions and their rates; `compare` the llm_compare rule's job;
`cascade` the cascade rule's job (when sending a sentence to the LLM pays); `bench` the LLM scoring-speed
benchmark.
"""

"""Stage 5, the `llm_compare` and `cascade` rules: local quantized instruction LLMs beside the encoders.

`compare` is the llm_compare rule's job; `cache` the score cache shared by every job; `cascade` the cascade rule's
job (when sending a sentence to the LLM pays); `bench` the LLM scoring-speed benchmark.
"""

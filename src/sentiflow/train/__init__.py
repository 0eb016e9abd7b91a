"""Stage 2, the `tokenize` and `train` rules: token caches, fine-tuning one run, and what a run needs to run.

`run` is the train rule's job (`train_from_tokens`, `fine_tune`); `recipe` the settings of one run; `loops`,
`steps`, `batches` and `evaluation` the training and evaluation loops; `checkpoint` resumable state; `modeling`
loading backbones and tokenizers; `tokens` the token caches; `gpus` device slots; `runinfo` the versions and
hardware every run records; `bench` the training-speed benchmark against Hugging Face Trainer.
"""

"""The behaviour stage: CheckList-style behavioural tests (MFT, INV, DIR) generated per dataset from the config, the
validation split and the training split's shortcut words (`suite`, `generators`, `lexicons`); every encoder
checkpoint's and LLM entry's probabilities on them (`score`); failure rates with intervals over seeds and clusters,
paired comparisons, the cascade on the suite, and the failure modes' association (from the errors stage) beside the
intervention (`outcomes`, `statistics`, `cascade`, `association`, `examples`, `figure`, `summary`)."""

"""The behaviour stage: CheckList-style behavioural tests (MFT, INV, DIR) generated per dataset from the config, the
validation split and the training split's shortcut words (`suite`, `generators`, `lexicons`), and every encoder
checkpoint and LLM entry's probabilities on them (`score`)."""

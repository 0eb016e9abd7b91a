"""Behavioural tests (CheckList's MFT, INV and DIR, written for sentiflow): a suite of controlled inputs per dataset,
every encoder run group, LLM entry and the cascade scored on it, failure rates with hierarchical bootstrap
intervals, paired comparisons, and the failure modes' association (from the errors stage) beside the intervention."""

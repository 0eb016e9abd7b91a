"""Commands beside the workflow: `python -m sentiflow.tools.plan` lists every planned run and its cost."""

"""The finished study in an experiment tracker: every run, run group and LLM entry written into an MLflow tracking
store after the workflow has made them (rule `export_tracking`). `records` turns the study's files into what each
MLflow run holds; `export` writes those into the store, finding the runs of an earlier export again by identity."""

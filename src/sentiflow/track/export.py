"""The study's records written into an MLflow tracking store, one MLflow run each, by one process after the workflow's
runs have finished (a SQLite store has one writer, and none on a network file system).

Every MLflow run carries its record's identity as a tag, and a fingerprint of what it holds. Exporting again finds
the runs by identity and leaves a run whose fingerprint matches alone, so a second export duplicates nothing. A run
group's run is updated in place (its parameters are its identity; new statistics are logged at a later time, which
MLflow shows as the latest), so its seeds' runs keep their parent. A seed's run or an LLM entry whose files changed
(trained or asked again) is replaced: MLflow refuses a new value for a logged param, and new curves would be mixed
into the old ones step by step. A run that finished since the last export is added.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path

from tqdm.auto import tqdm

from sentiflow.atomic import write_json
from sentiflow.track.records import Record

try:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient
    from sqlalchemy.engine import make_url
except ImportError as error:  # the base install stays light: MLflow is the `tracking` extra
    raise ImportError(
        "the MLflow export (tracking.enabled) needs MLflow: pip install -e .[tracking], "
        "or pip install -r requirements-tracking.txt"
    ) from error

IDENTITY = "sentiflow.identity"
FINGERPRINT = "sentiflow.fingerprint"
KIND = "sentiflow.kind"
PARENT = "mlflow.parentRunId"
# MLflow's limits on one log_batch call.
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message names the URI and MLflow's reason."""


def export_study(records: list[Record], settings: dict, output: str | os.PathLike) -> dict:
    """Write `records` into the store of `settings` (the `tracking:` section) and the export's account to `output`."""
    started = time.perf_counter()
    client = connect(settings["uri"])
    experiments = {
        dataset: experiment_name(settings["experiment"], dataset)
        for dataset in dict.fromkeys(r.dataset for r in records)
    }
    ids = {name: experiment_id(client, name, settings["artifacts"]) for name in set(experiments.values())}
    found = {name: runs_by_identity(client, experiment) for name, experiment in ids.items()}
    run_ids: dict[str, str] = {}
    outcomes: Counter = Counter()
    for record in tqdm(records, desc="MLflow runs", unit="run", mininterval=1):
        name = experiments[record.dataset]
        parent = run_ids.get(record.parent) if record.parent else None
        run_ids[record.identity], outcome = write_record(
            client, ids[name], record, found[name].get(record.identity, []), parent
        )
        outcomes[outcome] += 1
    account = {
        "uri": settings["uri"],
        "experiments": experiments,
        "runs": sum(r.kind == "run" for r in records),
        "run_groups": sum(r.kind == "group" for r in records),
        "llm_entries": sum(r.kind == "llm" for r in records),
        "findings": sum(r.kind == "findings" for r in records),
        **{outcome: outcomes[outcome] for outcome in ("created", "updated", "replaced", "unchanged")},
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(f"exported {len(records)} MLflow runs to {settings['uri']}: {dict(outcomes)}", flush=True)
    write_json(output, account)
    return account


def connect(uri: str) -> MlflowClient:
    """A client of the store at `uri`, tried with one query so that a bad URI fails here, named."""
    # MLflow retries an unreachable server for minutes by default; a workflow rule should fail soon and say why.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        open_sqlite(uri)
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as error:  # MLflow's, SQLAlchemy's or the HTTP client's error, depending on the store
        reason = " ".join(str(error).split()) or type(error).__name__
        raise TrackingError(f"tracking.uri {uri}: the MLflow tracking store cannot be used: {reason}") from error
    return client


def open_sqlite(uri: str) -> None:
    """Open a SQLite store's file once, as MLflow will: MLflow retries a file it cannot open for 100 seconds before
    it gives SQLite's reason, which this gives at once."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True)  # as MLflow does for a SQLite store
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA schema_version")


def experiment_name(template: str, dataset: str) -> str:
    """`tracking.experiment`, with `{dataset}` (if it has one) replaced: one experiment per dataset."""
    if template.replace("{dataset}", "").count("{") or template.replace("{dataset}", "").count("}"):
        raise ValueError(f"tracking.experiment {template!r}: the only placeholder it may hold is {{dataset}}")
    return template.replace("{dataset}", dataset)


def experiment_id(client: MlflowClient, name: str, artifacts: str | None) -> str:
    """The experiment called `name`, created (its artifacts under `artifacts`) or restored if need be."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None if artifacts is None else (Path(artifacts).resolve() / safe_folder(name)).as_uri()
        return client.create_experiment(name, artifact_location=location)
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


def safe_folder(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def runs_by_identity(client: MlflowClient, experiment: str) -> dict[str, list]:
    """The experiment's live runs that an export wrote, by identity, oldest first."""
    found: dict[str, list] = defaultdict(list)
    token = None
    while True:
        page = client.search_runs(
            [experiment], max_results=1000, order_by=["attributes.start_time ASC"], page_token=token
        )
        for run in page:
            if IDENTITY in run.data.tags:
                found[run.data.tags[IDENTITY]].append(run)
        token = page.token
        if not token:
            return found


def write_record(client: MlflowClient, experiment: str, record: Record, runs: list, parent: str | None):
    """(run id, what was done) for one record: `unchanged`, `updated`, `replaced` or `created`."""
    fingerprint = record.fingerprint()
    current = runs[0] if runs else None
    for duplicate in runs[1:]:  # left by an export that stopped between creating a run and finding it again
        client.delete_run(duplicate.info.run_id)
    if current is not None and current.data.tags.get(FINGERPRINT) == fingerprint:
        if parent and current.data.tags.get(PARENT) != parent:
            client.set_tag(current.info.run_id, PARENT, parent)
        return current.info.run_id, "unchanged"
    if current is not None and record.kind == "group":
        fill(client, current.info.run_id, record, fingerprint, parent)
        return current.info.run_id, "updated"
    if current is not None:
        client.delete_run(current.info.run_id)
    start = record.end_ms - int(record.seconds * 1000)
    run = client.create_run(
        experiment, start_time=start, tags={IDENTITY: record.identity, KIND: record.kind}, run_name=record.name
    )
    fill(client, run.info.run_id, record, fingerprint, parent)
    client.set_terminated(run.info.run_id, "FINISHED", end_time=record.end_ms)
    return run.info.run_id, "created" if current is None else "replaced"


def fill(client: MlflowClient, run_id: str, record: Record, fingerprint: str, parent: str | None) -> None:
    """Log the record's params, metrics, artifacts and tags; the fingerprint last, so a run an export did not finish
    is written again the next time."""
    params = [Param(key, value) for key, value in record.params.items()]
    for i in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[i : i + PARAMS_PER_BATCH])
    metrics = [Metric(key, value, record.end_ms, step) for key, value, step in record.metrics]
    for i in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + METRICS_PER_BATCH])
    for path in record.artifacts:
        client.log_artifact(run_id, str(path))
    tags = [RunTag(key, value) for key, value in record.tags.items()]
    if parent:
        tags.append(RunTag(PARENT, parent))
    for i in range(0, len(tags), PARAMS_PER_BATCH):
        client.log_batch(run_id, tags=tags[i : i + PARAMS_PER_BATCH])
    client.set_tag(run_id, FINGERPRINT, fingerprint)

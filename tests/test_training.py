import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sentiflow.train.loops import decay_groups
from sentiflow.train.modeling import BackboneUnavailable, load_classifier, load_tokenizer
from sentiflow.train.run import NonFiniteLoss, RunOutputs, TrainConfig, fine_tune
from sentiflow.train.steps import EagerStep

LABELS = ["negative", "positive"]
LR = 3e-3  # a tiny random model needs a larger step than a pre-trained one


def run_outputs(folder: Path) -> RunOutputs:
    return RunOutputs(
        history=folder / "history.csv",
        steps=folder / "steps.csv",
        predictions=folder / "predictions.csv",
        holdout_predictions=folder / "holdout_predictions.csv",
        model=folder / "model",
        metadata=folder / "metadata.json",
        resume=folder / "resume",
    )


def train_toy(tiny_bert, toy_tokens, folder, holdout=None, **overrides):
    train, validation, pad_id = toy_tokens
    # The study's loop as written unless a test asks for another; the fast loop is compared with it in test_fast.
    cfg = TrainConfig(**({"epochs": 2, "learning_rate": LR, "seed": 1, "threads": 1, "loop": "plain"} | overrides))
    out = run_outputs(folder)
    return fine_tune(str(tiny_bert), LABELS, train, validation, pad_id, cfg, out, holdout=holdout), out


@pytest.fixture(scope="module")
def toy_run(tiny_bert, toy_tokens, tmp_path_factory):
    return train_toy(tiny_bert, toy_tokens, tmp_path_factory.mktemp("run"), epochs=3)


def test_loss_goes_down_and_the_toy_task_is_learned(toy_run):
    _metadata, out = toy_run
    history = pd.read_csv(out.history)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["val_accuracy"].max() >= 0.95
    steps = pd.read_csv(out.steps)
    assert len(steps) == 3 * 20  # 640 sentences / batch 32
    assert steps["loss"].tail(10).mean() < steps["loss"].head(10).mean()


def test_outputs_agree_with_each_other(toy_run, toy_tokens):
    metadata, out = toy_run
    history = pd.read_csv(out.history)
    predictions = pd.read_csv(out.predictions)
    assert len(predictions) == 3 * len(toy_tokens[1])
    for epoch, group in predictions.groupby("epoch"):
        accuracy = (group["pred"] == group["gold"]).mean()
        assert accuracy == pytest.approx(history.set_index("epoch").loc[epoch, "val_accuracy"], abs=1e-12)
        np.testing.assert_allclose(group[["prob_0", "prob_1"]].sum(axis=1), 1.0, atol=1e-6)
        assert (group["pred"] == group[["prob_0", "prob_1"]].to_numpy().argmax(1)).all()
    best = history.loc[history["val_accuracy"].idxmax()]
    assert metadata["best_epoch"] == best["epoch"] and metadata["best_val_accuracy"] == best["val_accuracy"]
    # No holdout: the epoch is chosen on validation, as the study did (select_epoch auto), and said so.
    assert metadata["select_epoch"] == "best" and metadata["selected_epoch"] == metadata["best_epoch"]
    assert metadata["selected_val_accuracy"] == best["val_accuracy"] and metadata["selected_holdout_accuracy"] is None
    assert history["holdout_accuracy"].isna().all() and metadata["data"]["holdout_rows"] == 0
    saved = json.loads(out.metadata.read_text())
    assert saved["hardware"]["device"] == "cpu" and saved["versions"]["transformers"]
    assert saved["hyperparameters"]["learning_rate"] == LR and saved["seed"] == 1
    assert saved["peak_memory"]["host_rss_mb"] > 0 and saved["total_seconds"] > 0
    assert not out.resume.exists()  # removed once the run is complete
    holdout = pd.read_csv(out.holdout_predictions)  # no holdout in this run: the header alone
    assert holdout.empty and list(holdout.columns) == list(predictions.columns)


def test_best_checkpoint_reloads_and_reproduces_its_predictions(toy_run, toy_tokens, tiny_bert):
    from transformers import AutoModelForSequenceClassification

    metadata, out = toy_run
    model = AutoModelForSequenceClassification.from_pretrained(out.model).eval()
    assert model.config.id2label == {0: "negative", 1: "positive"}
    validation, pad_id = toy_tokens[1], toy_tokens[2]
    batch = validation.batch(np.arange(len(validation)), pad_id)
    with torch.no_grad():
        probs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.softmax(-1)
    saved = pd.read_csv(out.predictions).query(f"epoch == {metadata['selected_epoch']}")
    np.testing.assert_allclose(probs.numpy(), saved[["prob_0", "prob_1"]].to_numpy(), atol=1e-5)
    assert (
        load_tokenizer(str(out.model))("good film")["input_ids"]
        == load_tokenizer(str(tiny_bert))("good film")["input_ids"]
    )


def test_schedule_is_linear_with_and_without_warmup(toy_run, tiny_bert, toy_tokens, tmp_path):
    steps = pd.read_csv(toy_run[1].steps)
    total = len(steps)
    np.testing.assert_allclose(steps["lr"], LR * (1 - np.arange(total) / total), rtol=1e-9)

    _, out = train_toy(tiny_bert, toy_tokens, tmp_path, epochs=1, warmup_ratio=0.25)
    lr = pd.read_csv(out.steps)["lr"].to_numpy()  # 20 steps, 5 of warmup
    np.testing.assert_allclose(lr[:6], LR * np.arange(6) / 5, rtol=1e-9)
    np.testing.assert_allclose(lr[5:], LR * (20 - np.arange(5, 20)) / 15, rtol=1e-9)


def test_clipping_bounds_the_gradient_norm(tiny_bert, toy_tokens):
    torch.manual_seed(0)
    model = load_classifier(str(tiny_bert), LABELS)
    with torch.no_grad():  # large head weights give large logits, a large loss and a large gradient
        model.classifier.weight.mul_(300)
    train, _, pad_id = toy_tokens
    _loss, norm_before = EagerStep(model, None, None, max_grad_norm=1.0).backward_and_clip(
        train.batch(np.arange(32), pad_id)
    )
    norm_after = torch.linalg.vector_norm(
        torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None])
    )
    assert norm_before > 10
    assert norm_after == pytest.approx(1.0, rel=1e-4)


def test_no_weight_decay_on_biases_and_layernorm(tiny_bert):
    model = load_classifier(str(tiny_bert), LABELS)
    decay, plain = decay_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    plain_names = {names[id(p)] for p in plain["params"]}
    assert decay["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert "bert.embeddings.LayerNorm.weight" in plain_names and "classifier.bias" in plain_names
    assert {names[id(p)] for p in decay["params"]} == set(names.values()) - plain_names
    assert all(n.endswith("bias") or "LayerNorm" in n for n in plain_names)


def test_same_seed_same_weights_other_seed_other_weights(tiny_bert, toy_tokens, tmp_path):
    weights = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        _, out = train_toy(tiny_bert, toy_tokens, tmp_path / name, epochs=1, seed=seed)
        weights[name] = load_file(out.model / "model.safetensors")
    assert weights["a"].keys() == weights["b"].keys()
    assert all(torch.equal(weights["a"][k], weights["b"][k]) for k in weights["a"])
    assert not torch.equal(weights["a"]["classifier.weight"], weights["c"]["classifier.weight"])


@pytest.mark.parametrize("loop", ["plain", "fast"])
def test_non_finite_loss_stops_the_run_without_a_checkpoint(tiny_bert, toy_tokens, tmp_path, loop):
    broken = tmp_path / "broken-bert"
    broken.mkdir()
    for item in tiny_bert.iterdir():
        (broken / item.name).write_bytes(item.read_bytes())
    weights = load_file(broken / "model.safetensors")
    key = next(k for k in weights if k.endswith("attention.output.dense.weight"))
    weights[key][0, 0] = float("nan")
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    out = run_outputs(tmp_path / "run")
    with pytest.raises(NonFiniteLoss, match=r"loss is nan at epoch 1, step 1"):
        # The fast loop reads losses back every 8 steps, and still names the first bad one.
        cfg = TrainConfig(epochs=1, threads=1, loop=loop, fast={"sync_every": 8})
        fine_tune(str(broken), LABELS, toy_tokens[0], toy_tokens[1], toy_tokens[2], cfg, out)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2, reason="needs Linux and 2 CPUs")
def test_threads_are_capped_at_the_cpus_a_scheduler_grants():
    # A job pinned to one CPU (what Slurm's cpuset or taskset does) asking for 2 threads gets 1, and says so.
    probe = (
        "import os, json; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]});"
        "from sentiflow.train import runinfo; print(json.dumps([runinfo.torch_threads(2), runinfo.scheduler()]))"
    )
    env = {**os.environ, "SLURM_JOB_ID": "4242", "SLURM_CPUS_PER_TASK": "1"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    threads, scheduler = json.loads(result.stdout)
    assert threads == 1 and "using 1 threads, not 2: only 1 CPUs are granted" in result.stderr
    assert scheduler == {"granted_cpus": 1, "slurm_job_id": "4242", "slurm_cpus_per_task": "1"}


def test_unreachable_hub_backbone_says_how_to_use_a_local_folder(tmp_path):
    with pytest.raises(BackboneUnavailable, match=r"Hugging Face hub.*set the backbone's `model:`.*folder"):
        load_tokenizer("distilbert-base-uncased")
    with pytest.raises(BackboneUnavailable, match=r"does not exist"):
        load_tokenizer(str(tmp_path / "missing-model"))
    with pytest.raises(BackboneUnavailable, match=r"no config\.json"):
        load_classifier(str(tmp_path), LABELS)


RESUMABLE_RUN = """
import sys
from sentiflow.train.tokens import load_encoded
from sentiflow.train.run import RunOutputs, TrainConfig, fine_tune
splits, meta = load_encoded(sys.argv[2])
folder = sys.argv[3]
out = RunOutputs(*(f"{folder}/{n}" for n in ("history.csv", "steps.csv", "predictions.csv", "holdout.csv", "model", "metadata.json", "resume")))
fine_tune(sys.argv[1], ["negative", "positive"], splits["train"], splits["validation"], meta["pad_id"],
          TrainConfig(epochs=3, learning_rate=3e-3, seed=7, threads=1, loop=sys.argv[4], fast={"sync_every": 16}),
          out, holdout=splits["holdout"])
"""


@pytest.fixture(scope="module", params=["plain", "fast"])
def resumable(tiny_bert, toy_tokens, tmp_path_factory, request):
    """A 3-epoch run as a separate process, and the outputs of one uninterrupted run to compare with."""
    from sentiflow.train.tokens import Encoded, save_encoded

    folder = tmp_path_factory.mktemp("resumable")
    # Enough rows that one epoch lasts a few seconds: an interruption lands well inside epoch 2.
    train, validation, pad_id = toy_tokens
    rows = np.tile(np.arange(len(train)), 6)
    lengths = train.lengths[rows]
    big = Encoded(
        ids=np.concatenate([train.ids[train.offsets[r] : train.offsets[r + 1]] for r in rows]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        labels=train.labels[rows],
        index=np.arange(len(rows)),
    )
    save_encoded(folder / "tokens.npz", {"train": big, "validation": validation, "holdout": train}, {"pad_id": pad_id})
    script = folder / "run.py"
    script.write_text(RESUMABLE_RUN)

    def command(out):
        return [sys.executable, str(script), str(tiny_bert), str(folder / "tokens.npz"), str(out), request.param]

    subprocess.run(command(folder / "whole"), check=True, capture_output=True)
    return command, folder / "whole", len(train)


def start_and_interrupt(command, out, send) -> subprocess.Popen:
    """Start the run, wait until epoch 1 is saved, let epoch 2 begin, then interrupt it with `send`."""
    process = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "resume" / "state.pt").exists():
        assert process.poll() is None and time.time() < deadline, "the run ended before its first epoch was saved"
        time.sleep(0.01)
    time.sleep(0.3)  # into epoch 2
    os.kill(process.pid, send)
    process.wait(timeout=120)
    return process


def assert_same_run(resumed: Path, whole: Path):
    timing = ["train_seconds", "eval_seconds", "epoch_seconds", "train_tokens_per_s", "train_sentences_per_s"]
    pd.testing.assert_frame_equal(
        pd.read_csv(resumed / "history.csv").drop(columns=timing),
        pd.read_csv(whole / "history.csv").drop(columns=timing),
    )
    for name in ("steps.csv", "predictions.csv", "holdout.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(resumed / name), pd.read_csv(whole / name))
    a, b = load_file(resumed / "model" / "model.safetensors"), load_file(whole / "model" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in b)
    # The epoch is chosen on the holdout in both, and the same one: the resumed run's choice spans its sessions.
    chosen = ("select_epoch", "selected_epoch", "selected_holdout_accuracy", "best_epoch")
    resumed_metadata, whole_metadata = (json.loads((run / "metadata.json").read_text()) for run in (resumed, whole))
    assert whole_metadata["select_epoch"] == "holdout"
    assert {k: resumed_metadata[k] for k in chosen} == {k: whole_metadata[k] for k in chosen}


def test_a_killed_run_resumes_to_the_same_numbers(resumable, tmp_path):
    command, whole, train_rows = resumable
    killed = tmp_path / "killed"
    start_and_interrupt(command, killed, signal.SIGKILL)
    state = torch.load(killed / "resume" / "state.pt", weights_only=False)
    assert state["progress"]["epoch"] == 1, "the kill should land in epoch 2"
    assert not (killed / "history.csv").exists()

    subprocess.run(command(killed), check=True, capture_output=True)
    metadata = json.loads((killed / "metadata.json").read_text())
    assert metadata["resumed_after_epochs"] == [1] and metadata["interruptions"] == []
    assert len(pd.read_csv(killed / "holdout.csv")) == 3 * train_rows
    assert_same_run(killed, whole)


# Both signals reach one handler: each loop is stopped by one of them (Slurm sends SIGTERM at a preemption or time
# limit, and SIGUSR1 when asked to with --signal).
PREEMPTING_SIGNAL = {"plain": signal.SIGTERM, "fast": signal.SIGUSR1}


def test_a_preempted_run_saves_mid_epoch_and_resumes_to_the_same_numbers(resumable, tmp_path, request):
    command, whole, _ = resumable
    send = PREEMPTING_SIGNAL[request.node.callspec.params["resumable"]]
    stopped = tmp_path / "stopped"
    process = start_and_interrupt(command, stopped, send)
    assert process.returncode not in (0, -send), "the run should exit by itself, non-zero, not die of the signal"
    assert f"{signal.Signals(send).name} received: stopped in epoch 2 after step" in process.stderr.read()
    progress = torch.load(stopped / "resume" / "state.pt", weights_only=False)["progress"]
    assert progress["epoch"] == 1 and 0 < progress["partial"]["batch"] < 120  # saved mid-epoch, not at its end

    subprocess.run(command(stopped), check=True, capture_output=True)
    metadata = json.loads((stopped / "metadata.json").read_text())
    assert [i["signal"] for i in metadata["interruptions"]] == [signal.Signals(send).name]
    assert_same_run(stopped, whole)


def test_early_stopping_stops_after_patience_epochs_without_a_better_accuracy(tiny_bert, toy_tokens, tmp_path):
    from sentiflow.train.run import Progress, patience_exhausted

    metadata, out = train_toy(tiny_bert, toy_tokens, tmp_path / "run", epochs=8, early_stopping_patience=1)
    history = pd.read_csv(out.history)
    best, stopped = metadata["best_epoch"], metadata["stopped_early_after_epoch"]
    # The toy task is learned within a few epochs; after that no epoch beats the best (ties keep the earlier).
    assert stopped is not None and stopped < 8 and stopped == best + 1 == metadata["epochs_trained"]
    assert history["epoch"].tolist() == list(range(1, stopped + 1))
    assert history["val_accuracy"].iloc[-1] <= history["val_accuracy"].iloc[best - 1]
    steps = pd.read_csv(out.steps)
    assert len(steps) == stopped * 20 and steps["lr"].iloc[-1] > 0  # the schedule still spans all 8 epochs
    assert not out.resume.exists()
    # The decision is derived from the saved progress alone, so a resumed run stops at the same epoch.
    after = Progress(settings={}, selection="best", monitor="val_accuracy", epoch=5, best_epoch=3)
    assert patience_exhausted(TrainConfig(early_stopping_patience=2), after)
    assert not patience_exhausted(TrainConfig(early_stopping_patience=3), after)
    assert not patience_exhausted(
        TrainConfig(), Progress(settings={}, selection="best", monitor="val_accuracy", epoch=5, best_epoch=1)
    )


def test_classifier_dropout_reaches_the_head_of_each_architecture(tiny_bert, tmp_path):
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    bert = load_classifier(str(tiny_bert), LABELS)
    assert bert.dropout.p == pytest.approx(0.1)  # the checkpoint's own (hidden_dropout_prob)
    assert load_classifier(str(tiny_bert), LABELS, classifier_dropout=0.37).dropout.p == pytest.approx(0.37)
    # DistilBERT names the setting seq_classif_dropout.
    folder = tmp_path / "tiny-distilbert"
    DistilBertForMaskedLM(
        DistilBertConfig(vocab_size=64, dim=32, n_layers=1, n_heads=2, hidden_dim=64)
    ).save_pretrained(folder)
    assert load_classifier(str(folder), LABELS).dropout.p == pytest.approx(0.2)
    assert load_classifier(str(folder), LABELS, classifier_dropout=0.45).dropout.p == pytest.approx(0.45)


def test_every_encoder_family_tokenizes_trains_and_publishes_a_plain_transformers_checkpoint(tiny_family, tmp_path):
    """RoBERTa (byte-level BPE, no token type ids), DeBERTa-v3 (SentencePiece), ELECTRA and ModernBERT, through the
    workflow's own path: token cache, fine-tuning with three classes, the published checkpoint reloaded by plain
    transformers with its own tokenizer."""
    from conftest import toy_frame
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sentiflow.train.run import train_from_tokens
    from sentiflow.train.tokens import tokenize_dataset

    family, folder = tiny_family
    labels = ["negative", "positive", "unused"]  # a third class never seen: the head is sized by the labels
    splits = {}
    for name, frame in (("train", toy_frame(640, 1)), ("validation", toy_frame(200, 2))):
        splits[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(splits[name])
    stats = tokenize_dataset(str(folder), splits, None, tmp_path / "tokens.npz", tmp_path / "tokens.json")
    assert stats["max_length"] == 128 and stats["splits"]["train"]["truncated"] == 0
    out = run_outputs(tmp_path / "run")
    cfg = TrainConfig(epochs=4, learning_rate=5e-3, seed=1, threads=1)  # measured: every family reaches 1.0 by epoch 3
    metadata = train_from_tokens(tmp_path / "tokens.npz", str(folder), labels, cfg, out)
    assert metadata["best_val_accuracy"] >= 0.9, (family, metadata["best_val_accuracy"])

    model = AutoModelForSequenceClassification.from_pretrained(out.model).eval()
    tokenizer = AutoTokenizer.from_pretrained(out.model)
    assert model.config.model_type == family and model.config.id2label == dict(enumerate(labels))
    texts = toy_frame(200, 2)["text"].tolist()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        probs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.softmax(-1)
    saved = pd.read_csv(out.predictions).query(f"epoch == {metadata['selected_epoch']}")
    np.testing.assert_allclose(probs.numpy(), saved[["prob_0", "prob_1", "prob_2"]].to_numpy(), atol=1e-4)


def test_a_backbone_transformers_cannot_build_fails_before_training(tmp_path, tiny_bert):
    from sentiflow.train.modeling import check_backbone

    unknown = tmp_path / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text(json.dumps({"model_type": "hyperbert-9000", "hidden_size": 8}))
    with pytest.raises(BackboneUnavailable, match=r"model type 'hyperbert-9000'.*transformers \d+\.\d+.*cannot build"):
        check_backbone(str(unknown))
    no_head = tmp_path / "no-head"
    no_head.mkdir()
    (no_head / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(BackboneUnavailable, match=r"model type 'vit' has no sequence-classification head"):
        check_backbone(str(no_head))
    assert check_backbone(str(tiny_bert)) == "bert"


def test_resume_states_are_written_in_the_background_as_they_were_at_the_epoch_end(tiny_bert, tmp_path):
    from sentiflow.train import checkpoint

    torch.manual_seed(0)
    model = load_classifier(str(tiny_bert), LABELS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    at_epoch_end = {k: v.clone() for k, v in model.state_dict().items()}
    writer = checkpoint.StateWriter()
    tables = {name: pd.DataFrame({"epoch": [1]}) for name in checkpoint.TABLES}
    writer.submit(
        tmp_path / "resume",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        progress={"epoch": 1},
        tables=tables,
        tokenizer=load_tokenizer(str(tiny_bert)),
        new_best=True,
    )
    with torch.no_grad():  # the next epoch trains while the state is being written
        for p in model.parameters():
            p.add_(1.0)
    writer.wait()
    state, saved_tables = checkpoint.load_resume_state(tmp_path / "resume")
    assert all(torch.equal(state["model"][k], at_epoch_end[k]) for k in at_epoch_end)
    assert state["progress"] == {"epoch": 1} and saved_tables["history"]["epoch"].tolist() == [1]
    best = load_file(tmp_path / "resume" / checkpoint.BEST / "model.safetensors")
    assert all(torch.equal(best[k], at_epoch_end[k]) for k in best)  # the best checkpoint from the snapshot too
    assert writer.seconds["snapshot"] > 0 and writer.seconds["write"] > 0


def test_a_run_records_what_its_resume_states_cost(toy_run):
    metadata, _ = toy_run
    cost = metadata["resume_state_seconds"]
    assert set(cost) == {"snapshot", "write", "waited"} and cost["write"] > 0 and cost["snapshot"] > 0


def test_the_epoch_is_chosen_on_the_holdout_never_on_the_validation_sentences(tiny_bert, toy_tokens, tmp_path):
    """Validation whose labels are flipped peaks where the model is worst; the holdout (the toy task's own labels)
    where it is best. The published checkpoint is the holdout's choice, the study's best-on-validation beside it."""
    train, validation, pad_id = toy_tokens
    flipped = dataclasses.replace(validation, labels=1 - validation.labels)
    metadata, out = train_toy(tiny_bert, (train, flipped, pad_id), tmp_path / "run", holdout=validation, epochs=3)
    history = pd.read_csv(out.history).set_index("epoch")
    on_holdout, on_validation = int(history["holdout_accuracy"].idxmax()), int(history["val_accuracy"].idxmax())
    assert on_holdout != on_validation, history
    assert metadata["select_epoch"] == "holdout" and metadata["selected_epoch"] == on_holdout
    assert metadata["best_epoch"] == on_validation and metadata["best_val_accuracy"] == history["val_accuracy"].max()
    assert metadata["selected_val_accuracy"] == history.loc[on_holdout, "val_accuracy"] < metadata["best_val_accuracy"]
    # The published checkpoint is that epoch's: it reproduces the epoch's holdout predictions.
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(out.model).eval()
    batch = validation.batch(np.arange(len(validation)), pad_id)
    with torch.no_grad():
        probs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.softmax(-1)
    saved = pd.read_csv(out.holdout_predictions).query("epoch == @on_holdout")
    np.testing.assert_allclose(probs.numpy(), saved[["prob_0", "prob_1"]].to_numpy(), atol=1e-5)
    # Asked to choose as the study did, the same run publishes the best epoch on validation instead.
    study, _ = train_toy(tiny_bert, (train, flipped, pad_id), tmp_path / "study", holdout=validation, epochs=3,
                         select_epoch="best")  # fmt: skip
    assert study["select_epoch"] == "best" and study["selected_epoch"] == on_validation
    with pytest.raises(ValueError, match="select_epoch is 'holdout' but this run has no holdout"):
        train_toy(tiny_bert, toy_tokens, tmp_path / "none", select_epoch="holdout")


def test_early_stopping_watches_the_holdout(tiny_bert, toy_tokens, tmp_path):
    train, validation, pad_id = toy_tokens
    flipped = dataclasses.replace(validation, labels=1 - validation.labels)
    metadata, out = train_toy(tiny_bert, (train, flipped, pad_id), tmp_path / "run", holdout=validation, epochs=8,
                              early_stopping_patience=1)  # fmt: skip
    history = pd.read_csv(out.history).set_index("epoch")
    # On flipped validation every epoch after the first is "worse"; the holdout keeps improving for a while.
    assert metadata["stopped_early_after_epoch"] == metadata["selected_epoch"] + 1 == metadata["epochs_trained"]
    assert metadata["selected_epoch"] == int(history["holdout_accuracy"].idxmax()) > 1


@pytest.mark.parametrize("stored", ["float16", "bfloat16"])
def test_a_half_precision_checkpoint_fine_tunes_fp32_master_weights(tiny_bert, toy_tokens, tmp_path, stored):
    """transformers loads weights in their stored dtype; training must hold fp32 weights anyway, and end exactly
    where the same weights stored in fp32 end."""
    from transformers import AutoTokenizer, BertForMaskedLM

    half = tmp_path / stored
    BertForMaskedLM.from_pretrained(tiny_bert).to(getattr(torch, stored)).save_pretrained(half)
    widened = tmp_path / "fp32-copy"  # the same (rounded) values, stored in fp32
    BertForMaskedLM.from_pretrained(half, dtype=torch.float32).save_pretrained(widened)
    for folder in (half, widened):
        AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    with safe_open(str(half / "model.safetensors"), framework="pt") as weights:
        assert {weights.get_slice(k).get_dtype() for k in weights.keys()} == {"F16" if stored == "float16" else "BF16"}  # noqa: SIM118

    runs = {}
    for name, folder in ((stored, half), ("float32", widened)):
        metadata, out = train_toy(folder, toy_tokens, tmp_path / f"run-{name}", epochs=1, loop="fast")
        runs[name] = (metadata, out)
        assert metadata["stored_dtype"] == name and metadata["trained_dtype"] == "float32"
        assert np.isfinite(pd.read_csv(out.steps)["loss"]).all()
        with safe_open(str(out.model / "model.safetensors"), framework="pt") as weights:
            assert {weights.get_slice(k).get_dtype() for k in weights.keys()} == {"F32"}  # noqa: SIM118
    a_out, b_out = runs[stored][1], runs["float32"][1]
    for table in ("steps", "predictions", "history"):
        timing = ["train_seconds", "eval_seconds", "epoch_seconds", "train_tokens_per_s", "train_sentences_per_s"]
        left, right = pd.read_csv(getattr(a_out, table)), pd.read_csv(getattr(b_out, table))
        pd.testing.assert_frame_equal(
            left.drop(columns=timing, errors="ignore"), right.drop(columns=timing, errors="ignore")
        )

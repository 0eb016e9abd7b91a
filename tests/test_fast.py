"""The fast training loop against the plain one, on real (tiny and pre-trained) models, on the CPU."""

import dataclasses
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import MINILM, SST2, require
from test_training import LABELS, train_toy

from sentiflow.train.batches import (
    GROUP_CHUNK_BATCHES,
    DeviceBatches,
    HostBatches,
    bucket_width,
    epoch_order,
    group_by_length,
)
from sentiflow.train.evaluation import evaluate, evaluate_by_length
from sentiflow.train.loops import batch_order
from sentiflow.train.modeling import load_classifier
from sentiflow.train.recipe import TrainConfig
from sentiflow.train.steps import StepLog
from sentiflow.train.tokens import Encoded

CPU = torch.device("cpu")


def ragged(lengths: list[int], seed: int = 0) -> Encoded:
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    return Encoded(
        ids=rng.integers(5, 1000, lengths.sum()).astype(np.int32),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        labels=rng.integers(0, 2, len(lengths)),
        index=np.arange(len(lengths)),
    )


def test_bucket_widths_are_multiples_that_cover_the_longest_sentence():
    assert [bucket_width(n, 8) for n in (1, 8, 9, 16, 17, 66)] == [8, 8, 16, 16, 24, 72]


def test_device_batches_hold_the_host_batches_sentences_padded_to_a_bucket():
    # Skewed like SST-2 (median ~10 tokens, a long tail), so batches land in several buckets.
    data = ragged(np.minimum(1 + np.random.default_rng(1).exponential(8, 300), 70).astype(int).tolist())
    order = np.random.default_rng(2).permutation(len(data))
    host, device = HostBatches(data, 0, CPU), DeviceBatches(data, 0, CPU, multiple=8)
    host.set_order(order)
    device.set_order(order)
    widths = set()
    for start in range(0, len(data), 32):
        end = min(start + 32, len(data))
        a, b = host.batch(start, end), device.batch(start, end)
        width, bucket = a["input_ids"].shape[1], b["input_ids"].shape[1]
        widths.add(bucket)
        assert bucket % 8 == 0 and width <= bucket < width + 8
        assert torch.equal(b["input_ids"][:, :width], a["input_ids"]) and not b["input_ids"][:, width:].any()
        assert (
            torch.equal(b["attention_mask"][:, :width], a["attention_mask"])
            and not b["attention_mask"][:, width:].any()
        )
        assert torch.equal(b["labels"], a["labels"])
    assert len(widths) >= 3  # several buckets were exercised


def sst2_like_lengths(n: int, seed: int = 1) -> np.ndarray:
    # Skewed like SST-2's training split (mean ~13 tokens, a tail to 66)
    return np.minimum(3 + np.random.default_rng(seed).exponential(10, n), 66).astype(int)


def padding(order: np.ndarray, lengths: np.ndarray, batch_size: int = 32) -> float:
    """Tokens computed on (each batch padded to its longest) per real token."""
    widths = [
        lengths[order[i : i + batch_size]].max() * len(order[i : i + batch_size])
        for i in range(0, len(order), batch_size)
    ]
    return sum(widths) / lengths.sum()


def test_grouping_by_length_keeps_every_row_once_and_cuts_padding():
    lengths = sst2_like_lengths(5021)  # 156 full batches of 32 and one of 29; chunks of 50 batches
    order = epoch_order(len(lengths), seed=3, epoch=1)
    grouped = group_by_length(order, lengths, 32, np.random.default_rng(0))
    assert sorted(grouped.tolist()) == list(range(len(lengths)))
    assert padding(order, lengths) > 2.0 and padding(grouped, lengths) < 1.15
    batches = [grouped[i : i + 32] for i in range(0, len(grouped), 32)]
    assert [len(b) for b in batches] == [32] * 156 + [29]  # the short batch stays last
    # Each full batch is a run of one length-sorted chunk of the shuffled order
    chunk_of = {row: k // (GROUP_CHUNK_BATCHES * 32) for k, row in enumerate(order)}
    assert all(len({chunk_of[row] for row in b}) == 1 for b in batches)
    # and batches of all lengths are spread over the epoch, not sorted by length.
    widths = np.array([lengths[b].max() for b in batches[:-1]])
    assert not (np.all(np.diff(widths) >= 0) or np.all(np.diff(widths) <= 0))
    assert abs(np.corrcoef(np.arange(len(widths)), widths)[0, 1]) < 0.3
    again = group_by_length(order, lengths, 32, np.random.default_rng(0))
    assert np.array_equal(grouped, again)


def test_the_epoch_order_is_grouped_only_in_the_fast_loop_when_asked():
    lengths = sst2_like_lengths(700)
    plain = batch_order(TrainConfig(seed=2, loop="plain"), lengths, epoch=3)
    assert np.array_equal(plain, epoch_order(700, 2, 3))
    assert np.array_equal(
        batch_order(TrainConfig(seed=2, loop="fast", fast={"group_by_length": False}), lengths, 3), plain
    )
    grouped = batch_order(TrainConfig(seed=2, loop="fast"), lengths, epoch=3)
    assert sorted(grouped.tolist()) == list(range(700)) and padding(grouped, lengths) < 0.5 * padding(plain, lengths)
    # A resumed run recomputes its epoch's order from (seed, epoch): it must come out the same.
    assert np.array_equal(grouped, batch_order(TrainConfig(seed=2, loop="fast"), lengths, epoch=3))
    assert not np.array_equal(grouped, batch_order(TrainConfig(seed=2, loop="fast"), lengths, epoch=4))


def test_step_log_reads_back_in_order_every_n_steps():
    log = StepLog(CPU, sync_every=3)
    due = [log.record(1, s, 0.1 * s, 32, torch.tensor(float(s)), torch.tensor(2.0 * s)) for s in range(1, 4)]
    assert due == [False, False, True]
    assert [(r[1], r[2], r[3], r[5]) for r in log.flush()] == [(1, 1.0, 2.0, 32), (2, 2.0, 4.0, 32), (3, 3.0, 6.0, 32)]
    assert not log.record(2, 4, 0.4, 21, torch.tensor(float("nan")), torch.tensor(8.0))
    (row,) = log.flush()
    assert row[:2] == (2, 4) and np.isnan(row[2]) and row[3:] == (8.0, 0.4, 21)
    assert log.flush() == []


def test_length_sorted_evaluation_equals_the_plain_evaluation(tiny_bert, toy_tokens):
    torch.manual_seed(0)
    model = load_classifier(str(tiny_bert), LABELS)
    _, validation, pad_id = toy_tokens
    loss, probs = evaluate(model, validation, pad_id, 64, CPU)
    fast_loss, fast_probs = evaluate_by_length(model, validation, pad_id, 512, CPU, multiple=8)
    assert fast_loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(fast_probs, probs, atol=1e-5)
    assert model.training


def train_both(backbone, toy_tokens, folder, group_by_length: bool) -> dict:
    # bucket_multiple 8 as on a GPU (the CPU default, 1, pads exactly like the plain loop)
    fast = {"sync_every": 7, "bucket_multiple": 8, "group_by_length": group_by_length}
    return {
        loop: train_toy(backbone, toy_tokens, folder / loop, epochs=3, loop=loop, fast=fast)[1]
        for loop in ("plain", "fast")
    }


@pytest.fixture(scope="module")
def without_dropout(tiny_bert, tmp_path_factory):
    # Dropout draws one number per position, so a wider (bucketed) batch draws other masks: a different
    # random realisation, not a different recipe. Without dropout the two loops must agree step by step.
    folder = tmp_path_factory.mktemp("no-dropout")
    shutil.copytree(tiny_bert, folder, dirs_exist_ok=True)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_the_fast_loop_takes_the_plain_loops_steps(without_dropout, toy_tokens, tmp_path):
    runs = train_both(without_dropout, toy_tokens, tmp_path, group_by_length=False)
    plain, fast = (pd.read_csv(runs[k].steps) for k in ("plain", "fast"))
    assert len(plain) == len(fast) == 60
    assert (plain[["epoch", "step"]] == fast[["epoch", "step"]]).all().all()
    np.testing.assert_allclose(fast["lr"], plain["lr"], rtol=1e-12)
    # Same batches (grouping off), same recipe: only float rounding differs (fused AdamW, masked bucket padding).
    np.testing.assert_allclose(fast["loss"].head(10), plain["loss"].head(10), rtol=1e-4)
    np.testing.assert_allclose(fast["loss"], plain["loss"], rtol=2e-2, atol=2e-3)
    np.testing.assert_allclose(fast["grad_norm"].head(10), plain["grad_norm"].head(10), rtol=1e-3)


def test_the_fast_loop_reaches_the_plain_loops_accuracy(tiny_bert, toy_tokens, tmp_path):
    # The fast loop as configured by default: length-grouped batches, so other batches than the plain loop's
    runs = train_both(tiny_bert, toy_tokens, tmp_path, group_by_length=True)
    plain, fast = (pd.read_csv(runs[k].history) for k in ("plain", "fast"))
    assert fast["val_accuracy"].max() >= 0.95
    # Epoch 1 is still at chance for both (any two runs differ there); once learned, both must agree.
    np.testing.assert_allclose(fast["val_accuracy"].tail(2), plain["val_accuracy"].tail(2), atol=0.01)
    # Other batches (and with dropout on, other masks): the losses agree only as well as two seeds do.
    assert fast["train_loss"].iloc[-1] < 0.5 * fast["train_loss"].iloc[0]


def test_fast_settings_are_validated():
    with pytest.raises(ValueError, match=r"training\.loop must be 'plain' or 'fast', not 'turbo'"):
        TrainConfig(loop="turbo")
    with pytest.raises(TypeError, match="unexpected keyword argument 'graphs'"):
        TrainConfig(loop="fast", fast={"graphs": True})


def test_the_benchmark_times_every_loop_on_the_same_data(tmp_path, capsys):
    from sentiflow.train import bench

    require(MINILM)
    require(SST2)
    out = tmp_path / "bench.json"
    bench.main(["--model", "random:tiny", "--tokenizer", str(MINILM), "--train", str(SST2 / "train.tsv"), "--rows", "640",
                "--steps", "6", "--warmup", "2", "--threads", "1", "--loops", "fast,fast-ungrouped,plain,hf", "--json", str(out)])  # fmt: skip
    summary = json.loads(out.read_text())
    results = summary["results"]
    assert list(results) == ["fast", "fast-ungrouped", "plain", "hf"]
    # On the CPU the buckets are exact widths: ungrouped, the fast loop pads exactly like the plain one.
    assert results["fast-ungrouped"]["padding"] == results["plain"]["padding"] > 1.5 * results["fast"]["padding"]
    assert results["fast"]["padding"] >= 1.0
    assert summary["train_rows"] == 640 and summary["device"] == "cpu" and summary["versions"]["torch"]
    for result in summary["results"].values():
        assert result["timed_steps"] == 6 and result["ms_per_step"] > 0
        assert 0.6 < result["mean_loss"] < 0.8  # a fresh two-class head: about log 2
    table = capsys.readouterr().out
    assert re.search(r"^fast\s+[\d.]+\s+[\d.]+x\s+[\d.]+x\s+[\d.]+\s+[\d.]+x$", table, flags=re.M), table
    assert re.search(r"^hf\s+[\d.]+\s+[\d.]+x\s+1\.00x\s+[\d.]+\s+-$", table, flags=re.M), table


def test_the_benchmark_times_training_s_own_epoch_function_across_epochs(tiny_bert, toy_tokens, tmp_path):
    """The benchmark's steps are training's steps: `take_steps` drives `loops.train_epoch` into the next epoch when
    one ends (its last batch short), and the losses equal those of a run of the same loop and seed."""
    from transformers import set_seed

    from sentiflow.train.bench import take_steps
    from sentiflow.train.loops import make_loop, make_optimizer

    train, validation, pad_id = toy_tokens
    rows = dataclasses.replace(
        train, ids=train.ids, offsets=train.offsets[:71], labels=train.labels[:70], index=train.index[:70]
    )
    cfg = TrainConfig(epochs=2, learning_rate=3e-3, seed=1, threads=1, loop="plain")  # 70 rows: 3 steps an epoch
    set_seed(cfg.seed)  # as training seeds before building the model
    model = load_classifier(str(tiny_bert), LABELS).train()
    loop = make_loop(cfg, CPU)
    optimizer, scheduler = make_optimizer(model, cfg, 6, loop)
    loop.start(model, optimizer, scheduler, rows, pad_id)
    stretches = take_steps(loop, rows, 0, 2) + take_steps(loop, rows, 2, 4)
    assert [(epoch, start, sums.batch) for epoch, sums, start in stretches] == [(1, 0, 2), (1, 2, 3), (2, 0, 3)]
    steps = [row[1] for _, sums, _ in stretches for row in sums.steps]
    assert steps == [1, 2, 3, 4, 5, 6]
    train_toy(tiny_bert, (rows, validation, pad_id), tmp_path / "run", epochs=2)
    losses = [row[2] for _, sums, _ in stretches for row in sums.steps]
    np.testing.assert_allclose(losses, pd.read_csv(tmp_path / "run/steps.csv")["loss"], rtol=1e-6)


def test_the_benchmark_refuses_unknown_loops_and_shapes(capsys):
    from sentiflow.train import bench

    with pytest.raises(SystemExit):
        bench.main(["--model", "random:tiny", "--tokenizer", "x", "--train", "x.tsv", "--loops", "fast,turbo"])
    assert "--loops: unknown turbo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--model", "random:tiny", "--train", "x.tsv"])
    assert "needs --tokenizer" in capsys.readouterr().err


def test_a_device_learning_rate_follows_the_schedule_and_trains_the_same(tiny_bert, toy_tokens):
    # The CUDA-graph step reads the rate from one shared tensor that the schedule fills in place; on the CPU
    # the same optimizer with that tensor must take the steps it takes with a float rate (up to the float32
    # rounding of the rate itself).
    from sentiflow.train.loops import make_loop, make_optimizer
    from sentiflow.train.steps import EagerStep, scheduled_lr, tensor_learning_rate

    train, _, pad_id = toy_tokens
    cfg = TrainConfig(loop="fast", learning_rate=3e-3, warmup_ratio=0.25)
    weights = {}
    for mode in ("float", "tensor"):
        torch.manual_seed(0)
        model = load_classifier(str(tiny_bert), LABELS)
        model.eval()  # no dropout, so the two runs differ only by the rate's rounding
        optimizer, scheduler = make_optimizer(model, cfg, 8, make_loop(cfg, CPU))
        if mode == "tensor":
            tensor_learning_rate(optimizer, CPU)
            shared = optimizer.param_groups[0]["lr"]
            assert all(group["lr"] is shared for group in optimizer.param_groups)
        step, batches = EagerStep(model, optimizer, scheduler, 1.0), HostBatches(train, pad_id, CPU)
        rates = []
        for k in range(8):
            rates.append(scheduled_lr(scheduler))
            step(batches.batch(32 * k, 32 * (k + 1)))
            if mode == "tensor":
                assert float(shared) == pytest.approx(scheduled_lr(scheduler), rel=1e-6)
        np.testing.assert_allclose(
            rates, [3e-3 * k / 2 for k in range(3)] + [3e-3 * (8 - k) / 6 for k in range(3, 8)], rtol=1e-12
        )
        weights[mode] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert all(torch.allclose(weights["float"][k], weights["tensor"][k], rtol=0, atol=1e-7) for k in weights["float"])


def test_the_config_schema_describes_every_fast_setting_with_the_code_default():
    import dataclasses

    import yaml
    from conftest import REPO

    from sentiflow.train.recipe import FastConfig

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    described = schema["properties"]["training"]["properties"]["fast"]["properties"]
    assert {name: spec["default"] for name, spec in described.items()} == {
        f.name: f.default for f in dataclasses.fields(FastConfig)
    }
    documented = (REPO / "config" / "README.md").read_text()
    assert all(f"| `fast.{name}` |" in documented for name in described)


def test_the_fast_loop_is_the_default_with_cuda_graphs_on_cuda_only():
    from sentiflow.train.loops import FastLoop, PlainLoop, make_loop

    cfg = TrainConfig()
    assert cfg.loop == "fast" and cfg.fast.cuda_graphs == "auto"
    loop = make_loop(cfg, torch.device("cpu"))
    assert isinstance(loop, FastLoop) and not loop.cuda_graphs and loop.multiple == 1
    assert loop.optimizer_options() == {"fused": True}
    assert loop.describe() == {
        "name": "fast",
        "cuda_graphs": False,
        "autocast": None,
        "tf32": False,
        "bucket_multiple": 1,
        "eval_batch_size": 64,
        "group_by_length": True,
    }
    # The evaluation batch follows the device unless the config names one.
    assert make_loop(TrainConfig(fast={"eval_batch_size": 256}), torch.device("cpu")).eval_batch_size == 256
    assert (
        type(make_loop(TrainConfig(loop="plain"), torch.device("cpu"))) is PlainLoop
    )  # the study's loop, one key away
    with pytest.raises(ValueError, match=r"cuda_graphs is true but the device is cpu; use auto"):
        make_loop(TrainConfig(fast={"cuda_graphs": True}), torch.device("cpu"))
    with pytest.raises(ValueError, match=r"training.fast.precision is tf32 .* but the device is cpu"):
        make_loop(TrainConfig(fast={"precision": "tf32"}), torch.device("cpu"))


def test_autocast_is_bf16_only_where_steps_replay_as_graphs():
    """Eager GPU steps are launch-bound and autocast adds a cast per weight: `auto` keeps them in fp32."""
    from sentiflow.train.steps import autocast_dtype, matmul_precision

    cuda = torch.device("cuda")
    assert autocast_dtype("auto", cuda, cuda_graphs=False) is None
    assert autocast_dtype("auto", torch.device("cpu"), cuda_graphs=False) is None
    assert autocast_dtype("bf16", torch.device("cpu"), cuda_graphs=False) == torch.bfloat16  # asked for: given
    assert (
        autocast_dtype("tf32", cuda, cuda_graphs=True) is None
        and autocast_dtype("fp32", cuda, cuda_graphs=True) is None
    )
    before = torch.backends.cuda.matmul.fp32_precision
    with matmul_precision(True):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert torch.backends.cuda.matmul.fp32_precision == before  # the rest of the process keeps its setting

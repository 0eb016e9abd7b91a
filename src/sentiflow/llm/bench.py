"""Benchmark LLM label scoring: seconds per item with the prompt-prefix cache and without it, in one process.

    python -m sentiflow.llm.bench MODEL.gguf SENTENCES.tsv [--items 40] [--threads 2] [--shots 2] [--modes cached,uncached]

SENTENCES is any table `sentiflow.data` reads with `sentence` and `label` columns (e.g. GLUE's dev.tsv);
`--items 0` scores all of them. Prints seconds per item, accuracy, top-label ECE and the share of prompt
tokens served from the prefix cache; `--instruction` replaces the default prompt's (with `{sentence}`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from sentiflow.analysis.calibration import calibration_metrics
from sentiflow.data import Columns, load_file_split
from sentiflow.llm.scorer import LabelScorer, check_gguf, default_prompt

LABELS = ["negative", "positive"]


def run(
    model,
    sentences,
    items: int,
    threads: int,
    shots: int,
    n_ctx: int = 2048,
    modes=("cached", "uncached"),
    instruction: str | None = None,
) -> dict:
    """Score `items` sentences (all when 0) after one warm-up sentence, each way in `modes`; shots come from the table's end."""
    frame = load_file_split(sentences, Columns(("sentence",), "label", tuple(LABELS)))
    examples = [(frame["text"].iloc[-1 - i], LABELS[int(frame["label"].iloc[-1 - i])]) for i in range(shots)]
    warmup, frame = frame["text"].iloc[-1 - shots], frame.head(items or len(frame))
    texts = frame["text"].tolist()
    prompt = replace(default_prompt(), shots=examples, **({"instruction": instruction} if instruction else {}))
    results = {}
    for reuse in [mode == "cached" for mode in modes]:
        scorer = LabelScorer(model, prompt, LABELS, n_ctx=n_ctx, threads=threads, reuse_prefix=reuse)
        scorer.score(warmup)  # page the weights in before timing; a sentence that is not timed
        scorer.reused_tokens = scorer.prompt_tokens = 0
        started = time.perf_counter()
        answers = [scorer.score(t) for t in texts]
        seconds = time.perf_counter() - started
        probs = np.array([[a[label] for label in LABELS] for a in answers])
        gold = frame["label"].to_numpy()
        results["cached" if reuse else "uncached"] = {
            "seconds_per_item": seconds / len(answers),
            "accuracy": float((probs.argmax(1) == gold).mean()),
            "ece": calibration_metrics(probs, gold)["ece"],
            "reused_token_share": scorer.reused_tokens / scorer.prompt_tokens,
            "answers": answers,
        }
    if len(results) < 2:
        return results
    cached, uncached = results["cached"], results["uncached"]
    results["speedup"] = uncached["seconds_per_item"] / cached["seconds_per_item"]
    results["max_probability_difference"] = max(
        abs(a[label] - b[label]) for a, b in zip(cached["answers"], uncached["answers"]) for label in LABELS
    )
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("sentences")
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument(
        "--modes", default="cached,uncached", type=lambda v: v.split(","), help="cached, uncached or both"
    )
    parser.add_argument("--instruction", help="the prompt's instruction, with {sentence}")
    args = parser.parse_args(argv)
    if not args.modes or set(args.modes) - {"cached", "uncached"}:
        parser.error("--modes: cached, uncached or cached,uncached")
    check_gguf(Path(args.model))
    results = run(
        args.model, args.sentences, args.items, args.threads, args.shots, modes=args.modes, instruction=args.instruction
    )
    for mode in args.modes:
        r = results[mode]
        print(
            f"{mode:9s} {r['seconds_per_item'] * 1000:8.1f} ms/item  accuracy {r['accuracy']:.3f}  ECE {r['ece']:.3f}  "
            f"prompt tokens from cache {r['reused_token_share']:.0%}"
        )
    if "speedup" in results:
        print(
            f"speed-up from the prefix cache: {results['speedup']:.2f}x; "
            f"largest probability difference cached vs uncached: {results['max_probability_difference']:.2e}"
        )


if __name__ == "__main__":
    main()

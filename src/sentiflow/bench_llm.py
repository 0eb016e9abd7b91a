"""Benchmark LLM label scoring: seconds per item with the prompt-prefix cache and without it, in one process.

    python -m sentiflow.bench_llm MODEL.gguf SENTENCES.tsv [--items 40] [--threads 2] [--shots 2]

SENTENCES is any table `sentiflow.data` reads with `sentence` and `label` columns (e.g. GLUE's dev.tsv).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sentiflow.data import Columns, load_file_split
from sentiflow.llm import DEFAULT_PROMPT, LabelScorer, PromptConfig, check_gguf

LABELS = ["negative", "positive"]


def run(model, sentences, items: int, threads: int, shots: int, n_ctx: int = 2048) -> dict:
    """Score the first `items` + 1 sentences (the first is a warm-up) both ways; shots come from the table's end."""
    frame = load_file_split(sentences, Columns("sentence", "label", tuple(LABELS)))
    examples = [(frame["text"].iloc[-1 - i], LABELS[int(frame["label"].iloc[-1 - i])]) for i in range(shots)]
    frame = frame.head(items + 1)
    texts = frame["text"].tolist()
    prompt = PromptConfig(**{**DEFAULT_PROMPT.__dict__, "shots": examples})
    results = {}
    for reuse in (True, False):
        scorer = LabelScorer(model, prompt, LABELS, n_ctx=n_ctx, threads=threads, reuse_prefix=reuse)
        scorer.score(texts[0])  # warm-up: page the weights in before timing
        started = time.perf_counter()
        answers = [scorer.score(t) for t in texts[1:]]
        seconds = time.perf_counter() - started
        right = sum(max(a, key=a.get) == LABELS[g] for a, g in zip(answers, frame["label"].iloc[1:]))
        results["cached" if reuse else "uncached"] = {
            "seconds_per_item": seconds / len(answers),
            "accuracy": right / len(answers),
            "reused_token_share": scorer.reused_tokens / scorer.prompt_tokens,
            "answers": answers,
        }
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
    args = parser.parse_args(argv)
    check_gguf(Path(args.model))
    results = run(args.model, args.sentences, args.items, args.threads, args.shots)
    for mode in ("cached", "uncached"):
        r = results[mode]
        print(f"{mode:9s} {r['seconds_per_item'] * 1000:8.1f} ms/item  accuracy {r['accuracy']:.3f}  "
              f"prompt tokens from cache {r['reused_token_share']:.0%}")
    print(f"speed-up from the prefix cache: {results['speedup']:.2f}x; "
          f"largest probability difference cached vs uncached: {results['max_probability_difference']:.2e}")

if __name__ == "__main__":
    main()

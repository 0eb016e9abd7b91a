"""The `llm_compare` rule's job: one LLM entry asked about one dataset's items, beside the encoders.

`LLMJob` is an entry and where its scores are cached; `score_sentences` asks the model (through the score cache)
about items; `compare` scores the chosen items and the entry's tag questions, and writes the answer table
(`answer_table`) and its summary (what the LLM fixes and breaks per run group, accuracy per group and cue family).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sentiflow.atomic import write_csv, write_json
from sentiflow.data import PAIR, TEXT, is_pair, read_split
from sentiflow.llm.cache import score_identity, sentence_key
from sentiflow.llm.items import encoder_votes, items_of, items_to_score, prompt_with_shots
from sentiflow.llm.scorer import Item, LabelScorer, PromptConfig, resolve_model
from sentiflow.llm.store import ScoreCache
from sentiflow.llm.tags import TAG_ANSWERS, tag_prompt, tag_rates


@dataclass
class LLMJob:
    """One LLM entry asked on one dataset: its `llm.models` entry, the prompt laid over it, the score cache."""

    name: str
    entry: dict
    prompt: dict
    cache: Path
    threads: int
    tags: dict = field(default_factory=dict)  # llm.tags asked on this dataset: name -> instruction and yes/no words

    def __post_init__(self):
        self.cache = Path(self.cache)  # the config gives a string

    @property
    def where(self) -> str:
        return f"llm.models.{self.name}"


def score_sentences(sentences: Sequence[Item], model_path: Path, job: LLMJob, prompt: PromptConfig, labels: Sequence[str]
                    ) -> tuple[list[dict], dict]:  # fmt: skip
    """Each item's (sentence's or pair's) label probabilities, its scoring seconds and prompt tokens, from the cache
    or from the model.

    The model is loaded only if some sentence is not cached yet; new scores are written to the cache at the latest
    30 seconds after they were scored, and all of them when the job stops, even by an error.
    """
    with ScoreCache(job.cache) as cache:
        identity = score_identity(model_path, job.entry, prompt, labels, job.cache)
        keys = [sentence_key(identity, s) for s in sentences]
        found = cache.get(sorted(set(keys)))
        todo = list(dict.fromkeys(k for k in keys if k not in found))  # each distinct sentence once
        session = {"scored_now": len(todo), "from_cache": len(set(keys)) - len(todo), "load_seconds": 0.0,
                   "score_seconds": 0.0}  # fmt: skip
        if todo:
            found |= ask_model(dict(zip(keys, sentences)), todo, model_path, job, prompt, labels, cache, session)
            session["score_seconds"] = sum(found[k]["seconds"] for k in todo)
    return [found[k] for k in keys], session


def ask_model(text_of: dict, todo: list[str], model_path: Path, job: LLMJob, prompt: PromptConfig,
              labels: Sequence[str], cache: ScoreCache, session: dict) -> dict[str, dict]:  # fmt: skip
    """Score the items under the keys `todo` with the model, each row put in the cache as soon as it is scored."""
    started = time.perf_counter()
    scorer = LabelScorer(model_path, prompt, labels, n_ctx=job.entry["n_ctx"], threads=job.threads,
                         seed=job.prompt["seed"], reuse_prefix=job.prompt.get("reuse_prefix", True),
                         n_gpu_layers=job.entry["n_gpu_layers"], where=job.where)  # fmt: skip
    session["load_seconds"] = time.perf_counter() - started
    fresh = {}
    for key in tqdm(todo, desc=f"{job.where}: scoring", mininterval=5.0):
        tokens, reused, started = scorer.prompt_tokens, scorer.reused_tokens, time.perf_counter()
        probs = scorer.score(text_of[key])
        fresh[key] = {"probs": [probs[label] for label in labels], "seconds": time.perf_counter() - started,
                      "prompt_tokens": scorer.prompt_tokens - tokens, "reused_tokens": scorer.reused_tokens - reused}  # fmt: skip
        cache.put({key: fresh[key]})
    return fresh


def compare(job: LLMJob, runs, labels: Sequence[str], data: dict, selection: dict, bootstrap: dict, outputs) -> dict:
    """The llm_compare rule for one model entry: score the encoders' errors (of a `runs.RunSet`), a matched control
    set and the cascade's sample of validation with the LLM (through the score cache), compare with the encoders,
    and ask the entry's tag questions (sarcasm, ...) about the errors and the control set. `data`: the validation,
    train and cues files; `selection`: `items` (llm.items) and `sample` (the cascade's); `bootstrap`: the tag rates'
    intervals; `outputs`: table, summary."""
    items, sample = selection["items"], selection["sample"]
    validation = read_split(data["validation"])
    votes = encoder_votes(runs, labels)
    scored = items_to_score(validation, votes, items, sample, job.prompt["seed"])
    # With nothing to ask, the model is not even looked for.
    model_path = resolve_model(job.entry, job.where) if len(scored) else None
    records, session = ask_labels(job, scored, model_path, labels, data["train"])
    out = answer_table(scored, votes, records, labels)
    session = ask_tags(job, out, scored, model_path, session)
    cues = pd.read_csv(data["cues"])
    # The LLM alone on validation sentences drawn without regard to the encoders: the cascade's sample, or every
    # sentence when items.all_validation asked for them.
    alone = out["in_cascade"] if sample["enabled"] else np.full(len(out), bool(items["all_validation"]))
    result = _summarise(out, votes, cues) | {"tags": tag_rates(out, job.tags, bootstrap)}
    result |= {
        "entry": job.name,
        "model": str(model_path or job.entry.get("path") or job.entry.get("hub_file")),
        "threads": job.threads,
        "n_gpu_layers": job.entry["n_gpu_layers"],
        "items": len(out),
        "no_errors": bool((out["group"] == "error").sum() == 0),
        "validation_items": int(alone.sum()),
        "validation_is_complete": bool(alone.sum() == len(validation)),
        "validation_llm_accuracy": float(out.loc[alone, "llm_correct"].mean()) if alone.any() else None,
    }
    result |= scoring_cost(out, records) | {"session": session, "missing_runs": runs.missing}
    write_csv(outputs["table"], out)
    write_json(outputs["summary"], result)
    return result


def ask_labels(job: LLMJob, scored, model_path: Path | None, labels: Sequence[str], train_path
               ) -> tuple[list[dict], dict]:  # fmt: skip
    """Each scored row's label probabilities (`score_sentences`' records) and the session's counts."""
    if not len(scored):
        return [], {"scored_now": 0, "from_cache": 0, "load_seconds": 0.0, "score_seconds": 0.0}
    prompt = prompt_with_shots(job.prompt, train_path, labels)
    return score_sentences(items_of(scored), model_path, job, prompt, labels)


def ask_tags(job: LLMJob, out, scored, model_path: Path | None, session: dict) -> dict:
    """The LLM's probability of yes to each tag question, as a `tag_NAME` column of `out` for the error and control
    rows (the rest stay empty), asked through the cache like the labels; the session's counts with the tags'."""
    tagged = out["group"].isin(["error", "control"]).to_numpy()
    for tag, question in job.tags.items():
        out[f"tag_{tag}"] = np.nan
        if tagged.any():
            prompt = tag_prompt(job.prompt, question)
            answers, asked = score_sentences(items_of(scored[tagged]), model_path, job, prompt, TAG_ANSWERS)
            session = {key: session[key] + asked[key] for key in session}  # the tag questions' scoring counts too
            out.loc[tagged, f"tag_{tag}"] = [answer["probs"][0] for answer in answers]
    return session


def scoring_cost(out, records: list[dict]) -> dict:
    """What scoring the answer table's items took: seconds, prompt tokens and the share the prefix cache served."""
    prompt_tokens, reused = sum(r["prompt_tokens"] for r in records), sum(r["reused_tokens"] for r in records)
    return {
        # Seconds the model took per sentence when it scored them, whether in this job or an earlier one.
        "seconds_per_item": float(out["llm_seconds"].mean()) if len(out) else None,
        "seconds": float(out["llm_seconds"].sum()),
        "prompt_tokens": int(prompt_tokens),
        "reused_prompt_tokens": int(reused),
        "reused_prompt_share": reused / prompt_tokens if prompt_tokens else None,
    }


def answer_table(scored, votes: dict, records: list[dict], labels: Sequence[str]):
    """One row per item asked: the sentence, gold, group, every run group's majority vote, the LLM's answer."""
    texts = ["sentence", PAIR] if is_pair(scored) else ["sentence"]
    out = scored.rename(columns={"text": "sentence"})[["index", *texts, "group", "in_cascade"]]
    out.insert(len(texts) + 1, "gold", [labels[g] for g in scored["label"]])
    position = scored["position"].to_numpy()
    for backbone, vote in votes.items():
        out[f"{backbone}_predicted"] = [labels[k] for k in vote["predicted"].to_numpy()[position]]
        out[f"{backbone}_confidence"] = vote["confidence"].to_numpy()[position]
        out[f"{backbone}_wrong_in_seeds"] = vote["wrong_in_seeds"].to_numpy()[position]
    probs = np.array([r["probs"] for r in records], dtype=float).reshape(len(out), len(labels))
    for k, label in enumerate(labels):
        out[f"llm_prob_{label}"] = probs[:, k]
    out["llm_predicted"] = [labels[k] for k in probs.argmax(1)] if len(out) else []
    out["llm_correct"] = out["llm_predicted"] == out["gold"]
    out["llm_seconds"] = [r["seconds"] for r in records]
    return out


def fix_counts(encoder_right: pd.Series, llm_correct: pd.Series, part: str = "") -> dict:
    """Items the encoder got wrong and how many of them the LLM gets right (fixes), and the other way (breaks)."""
    right, llm = encoder_right.to_numpy(dtype=bool), llm_correct.to_numpy(dtype=bool)
    return {f"encoder_wrong_items{part}": int((~right).sum()), f"llm_fixes{part}": int((~right & llm).sum()),
            f"encoder_right_items{part}": int(right.sum()), f"llm_breaks{part}": int((right & ~llm).sum())}  # fmt: skip


def _summarise(out, votes: dict, cues) -> dict:
    """LLM accuracy per group; per run group what the LLM fixes and breaks (the report counts them again on the
    confirmed label issues, which are known only later); accuracy per cue family."""
    groups = {
        name: {"items": len(g), "llm_accuracy": float(g["llm_correct"].mean())} for name, g in out.groupby("group")
    }
    per_backbone = {}
    for backbone in votes:
        encoder_right = out[f"{backbone}_predicted"] == out["gold"]
        counts = fix_counts(encoder_right, out["llm_correct"])
        agreement = float((out[f"{backbone}_predicted"] == out["llm_predicted"]).mean()) if len(out) else None
        per_backbone[backbone] = counts | {"agreement": agreement}
    scored = {"groups": groups, "backbones": per_backbone}
    if len(out):
        # A pair's families on either text (the failure modes' reading), not the per-text columns.
        families = [c for c in cues.columns if c not in ("index", TEXT, PAIR, "label")
                    and not c.endswith(("_in_first", "_in_second"))]  # fmt: skip
        tagged = out.merge(cues[["index", *families]], on="index", how="left")
        scored["by_cue"] = {
            family: {
                group: {
                    "items": int(g[family].sum()),
                    "llm_accuracy": float(g.loc[g[family], "llm_correct"].mean()) if g[family].any() else None,
                }
                for group, g in tagged.groupby("group")
            }
            for family in families
        }
    return scored

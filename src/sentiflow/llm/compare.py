"""Ask a local quantized instruction LLM (llama.cpp via llama-cpp-python) for a sentence's label.

No free generation: the prompt is built with the model's chat template, then the log-probabilities of each
label's verbalizer tokens are read after the prompt, which gives a label and a probability per label from one
forward pass (plus one per extra verbalizer token). The prompt prefix shared by all items (system prompt,
few-shot examples, instruction start) stays in llama.cpp's KV cache between items.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentiflow.analysis.metrics import bootstrap_ci, ci_settings, difference_ci
from sentiflow.atomic import write_csv, write_json
from sentiflow.config import defaults
from sentiflow.data import read_split
from sentiflow.llm.cache import ScoreCache, remembered_sha256, sentence_key

if TYPE_CHECKING:  # pandas is imported where it is used: the scorer alone does not need it
    import pandas as pd

GGUF_MAGIC = b"GGUF"
Item = str | tuple[str, ...]  # what the LLM is asked about: a sentence, or the two texts of a pair


class LLMError(RuntimeError):
    """The LLM cannot be used as configured; the message says what is wrong and what to set."""


def resolve_model(entry: dict, where: str = "llm.models.NAME") -> Path:
    """A model entry's local .gguf path, or its file downloaded from a hub repository (online users)."""
    if entry.get("path"):
        path = Path(entry["path"]).expanduser()
        check_gguf(path, f"{where}.path")
        return path
    if entry.get("hub_repo") and entry.get("hub_file"):
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(entry["hub_repo"], entry["hub_file"], revision=entry.get("revision")))
        except Exception as err:
            raise LLMError(
                f"{where}: could not download {entry['hub_file']} from {entry['hub_repo']} on the Hugging Face hub "
                f"({type(err).__name__}: {' '.join(str(err).split())}); check {where}.hub_repo and {where}.hub_file, or, "
                f"offline, copy the .gguf file here and set {where}.path"
            ) from err
        check_gguf(path, f"{where}.hub_file")
        return path
    raise LLMError(f"{where}: set path (a local .gguf file) or hub_repo and hub_file")


def check_gguf(path: Path, key: str = "path") -> None:
    if not path.is_file():
        raise LLMError(f"{key}: {path}: GGUF model file not found")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise LLMError(f"{key}: {path} is not a GGUF file (wrong magic bytes)")


@dataclass
class PromptConfig:
    system: str | None
    instruction: str  # contains {sentence}, or {sentence1} and {sentence2} for a sentence pair
    answer_prefix: str
    plain_template: str | None  # used when the model has no chat template; contains {system}, {prompt}
    verbalizers: dict[str, list[str]]  # label -> words that mean it
    shots: list[tuple[Item, str]]  # (item, label) examples shown before the item


def _schema_prompt() -> PromptConfig:

    prompt = defaults("llm", "prompt")
    return PromptConfig(
        system=prompt["system"],
        instruction=prompt["instruction"],
        answer_prefix=prompt["answer_prefix"],
        plain_template=prompt["plain_template"],
        verbalizers=prompt["verbalizers"],
        shots=[],
    )


# The schema's default prompt, for callers outside the workflow (benchmarks, notebooks).
DEFAULT_PROMPT = _schema_prompt()


class LabelScorer:
    """Scores labels for sentences with one llama.cpp model, reusing the KV cache of the shared prompt prefix."""

    def __init__(self, model_path: Path, prompt: PromptConfig, labels: Sequence[str], n_ctx: int, threads: int, seed: int = 0,
                 reuse_prefix: bool = True, n_gpu_layers: int = 0, where: str = "llm"):  # fmt: skip
        import llama_cpp

        self.labels = list(labels)
        self.prompt = prompt
        self.reuse_prefix = reuse_prefix
        missing = [label for label in self.labels if not prompt.verbalizers.get(label)]
        if missing:
            raise LLMError(f"{where}: the prompt's verbalizers have no words for label(s) {missing}")
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=n_gpu_layers,
                n_batch=min(512, n_ctx),
                seed=seed,
                verbose=False,
                logits_all=False,
            )
        except Exception as err:  # llama.cpp says only "failed to load model" for truncated files
            raise LLMError(f"{where}: llama.cpp could not load {model_path} ({err}); is the file complete?") from err
        self.template = self.llm.metadata.get("tokenizer.chat_template")
        if self.template is None and prompt.plain_template is None:
            raise LLMError(
                f"{where}: {model_path} has no chat template; set {where}.prompt.plain_template (with {{prompt}})"
            )
        self.reused_tokens = self.prompt_tokens = 0
        self.continuations = {
            label: [self._tokens(word, special=False) for word in prompt.verbalizers[label]] for label in self.labels
        }
        for label, words in self.continuations.items():
            for word, tokens in zip(prompt.verbalizers[label], words):
                if not tokens:
                    raise LLMError(f"{where}: the verbalizer {word!r} of label {label!r} is no token at all for this model; "
                                   "give the label a word in the prompt's verbalizers")  # fmt: skip

    def _tokens(self, text: str, special: bool = True, bos: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=special)

    def render(self, item: Item) -> str:
        """The full prompt text for one item (a sentence, or a pair), ending where the answer's first word belongs."""
        messages = []
        if self.prompt.system:
            messages.append({"role": "system", "content": self.prompt.system})
        for example, label in self.prompt.shots:
            messages.append({"role": "user", "content": instruct(self.prompt.instruction, example)})
            messages.append({"role": "assistant", "content": self.prompt.verbalizers[label][0]})
        messages.append({"role": "user", "content": instruct(self.prompt.instruction, item)})
        if self.template is not None:
            text = self._formatter()(messages=messages).prompt
        else:
            turns = "\n\n".join(
                m["content"] if m["role"] == "user" else f"{self.prompt.answer_prefix}{m['content']}"
                for m in messages
                if m["role"] != "system"
            )
            text = self.prompt.plain_template.format(system=self.prompt.system or "", prompt=turns)
        return text + self.prompt.answer_prefix

    def _formatter(self):
        """The chat template compiled once (compiling it took 3% of a 1.5B model's time per sentence)."""
        if getattr(self, "_chat_formatter", None) is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._chat_formatter = Jinja2ChatFormatter(
                template=self.template,
                eos_token=self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", "replace"),
                bos_token=self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", "replace"),
            )
        return self._chat_formatter

    def score(self, item: Item) -> dict[str, float]:
        """Probability of each label (normalised over the labels), from the verbalizers' token log-probabilities."""
        tokens = self._tokens(self.render(item), bos=self._needs_bos())
        self._evaluate_prompt(tokens)
        base, logits = self.llm.n_tokens, self._last_logits()
        label_logp = {}
        for label, words in self.continuations.items():
            # Several words may mean one label ("positive", "Positive"): their probabilities add up.
            label_logp[label] = _logsumexp([self._continuation_logp(base, logits, word) for word in words])
        values = np.array(list(label_logp.values()))
        probs = np.exp(values - _logsumexp(values))
        return dict(zip(label_logp, probs.tolist()))

    def _needs_bos(self) -> bool:
        # Chat templates that write the BOS token themselves must not get a second one.
        return not (self.template and "bos_token" in self.template)

    def _last_logits(self) -> np.ndarray:
        """The next-token logits after the last evaluated token (llama-cpp-python keeps them only in the context)."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)

    def _evaluate_prompt(self, tokens: list[int]) -> None:
        if len(tokens) >= self.llm.n_ctx():
            raise LLMError(f"the prompt is {len(tokens)} tokens, more than llm.n_ctx = {self.llm.n_ctx()}")
        keep = 0
        if self.reuse_prefix:
            cached = self.llm.input_ids[: self.llm.n_tokens].tolist()
            while keep < min(len(cached), len(tokens) - 1) and cached[keep] == tokens[keep]:
                keep += 1
        # Rewinding n_tokens makes eval() drop the KV cache past `keep`; the last prompt token is always
        # evaluated again so that the logits for the answer are fresh.
        self.llm.n_tokens = keep
        self.llm.eval(tokens[keep:])
        self.reused_tokens += keep
        self.prompt_tokens += len(tokens)

    def _continuation_logp(self, base: int, logits: np.ndarray, word: list[int]) -> float:
        """log P(word | prompt): the first token from the prompt's logits, later ones after evaluating the earlier."""
        total = 0.0
        for position, token in enumerate(word):
            total += float(logits[token] - _logsumexp(logits))
            if position < len(word) - 1:
                self.llm.eval([token])
                logits = self._last_logits()
        self.llm.n_tokens = base
        return total


def instruct(instruction: str, item: Item) -> str:
    """The instruction with the item's texts in it: `{sentence}` (the text, or a pair's first), `{sentence1}` and
    `{sentence2}` (a pair's two texts)."""
    texts = (item,) if isinstance(item, str) else tuple(item)
    second = texts[1] if len(texts) > 1 else ""
    return instruction.format(sentence=texts[0], sentence1=texts[0], sentence2=second)


def _logsumexp(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    top = values.max()
    return float(top + math.log(np.exp(values - top).sum()))


def encoder_votes(runs, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per run group (of a `runs.RunSet`) and validation sentence: the majority label over seeds, its mean
    probability, and how many seeds got the sentence wrong."""
    import pandas as pd

    votes = {}
    for label, group in runs.groups.items():
        majority = group.majority()
        votes[label] = pd.DataFrame({
            "index": group.index,
            "predicted": majority,
            "confidence": group.mean_probs()[np.arange(len(majority)), majority],
            "wrong_in_seeds": group.wrong_in_seeds(),
        })  # fmt: skip
    return votes


def select_items(validation, votes: dict, items: dict, seed: int):
    """Errors (wrong for some backbone in some seed; only `errors_of` backbones' when set), a same-size seeded
    control set those runs got right, and optionally the rest of the validation set."""
    unknown = set(items.get("errors_of") or []) - set(votes)
    if unknown:
        raise LLMError(f"llm.items.errors_of names backbones that are not configured: {sorted(unknown)}")
    wrong = np.zeros(len(validation), dtype=bool)
    for backbone, table in votes.items():
        if not items.get("errors_of") or backbone in items["errors_of"]:
            wrong |= table["wrong_in_seeds"].to_numpy() > 0
    rng = np.random.default_rng(seed)
    errors = np.flatnonzero(wrong) if items["errors"] else np.array([], dtype=int)
    if items.get("max_errors") is not None and len(errors) > items["max_errors"]:
        errors = np.sort(rng.choice(errors, items["max_errors"], replace=False))
    group = np.full(len(validation), "", dtype=object)
    group[errors] = "error"
    if items["control"]:
        right = np.flatnonzero(~wrong)
        control = rng.choice(right, min(len(errors), len(right)), replace=False)
        group[control] = "control"
    if items["all_validation"]:
        group[group == ""] = "other"
    chosen = validation.assign(group=group)
    return chosen[chosen["group"] != ""].reset_index(drop=True)


def cascade_sample(n: int, cascade: dict) -> np.ndarray:
    """Positions of the validation sentences the cascade is studied on: all of them, or a seeded sample."""
    if not cascade["enabled"]:
        return np.array([], dtype=int)
    if cascade.get("sentences") is None or cascade["sentences"] >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(cascade["seed"]).choice(n, cascade["sentences"], replace=False))


def score_identity(
    model_path: Path, entry: dict, prompt: PromptConfig, labels: Sequence[str], cache_folder: Path
) -> dict:
    """Everything that changes a sentence's scores (and nothing that does not: threads, n_ctx, the entry's name)."""
    import llama_cpp

    return {"model_sha256": remembered_sha256(model_path, cache_folder), "labels": list(labels), "system": prompt.system,
            "instruction": prompt.instruction, "answer_prefix": prompt.answer_prefix, "plain_template": prompt.plain_template,
            "verbalizers": {label: prompt.verbalizers[label] for label in labels}, "shots": [list(s) for s in prompt.shots],
            "n_gpu_layers": entry["n_gpu_layers"], "llama_cpp": llama_cpp.__version__}  # fmt: skip


def score_sentences(sentences: Sequence[Item], model_path: Path, job: LLMJob, prompt: PromptConfig, labels: Sequence[str]
                    ) -> tuple[list[dict], dict]:  # fmt: skip
    """Each item's (sentence's or pair's) label probabilities, its scoring seconds and prompt tokens, from the cache
    or from the model.

    The model is loaded only if some sentence is not cached yet; new scores are committed every 20 sentences.
    """
    from tqdm.auto import tqdm

    cache = ScoreCache(job.cache)
    identity = score_identity(model_path, job.entry, prompt, labels, job.cache)
    keys = [sentence_key(identity, s) for s in sentences]
    found = cache.get(sorted(set(keys)))
    todo = list(dict.fromkeys(k for k in keys if k not in found))  # each distinct sentence once
    text_of = dict(zip(keys, sentences))
    session = {
        "scored_now": len(todo),
        "from_cache": len(set(keys)) - len(todo),
        "load_seconds": 0.0,
        "score_seconds": 0.0,
    }
    if todo:
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
            if len(fresh) == 20:
                cache.put(fresh)
                found |= fresh
                fresh = {}
        cache.put(fresh)
        found |= fresh
        session["score_seconds"] = sum(found[k]["seconds"] for k in todo)
    cache.close()
    return [found[k] for k in keys], session


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


def compare(job: LLMJob, runs, labels: Sequence[str], data: dict, selection: dict, bootstrap: dict, outputs) -> dict:
    """The llm_compare rule for one model entry: score the encoders' errors (of a `runs.RunSet`), a matched control
    set and the cascade's sample of validation with the LLM (through the score cache), compare with the encoders,
    and ask the entry's tag questions (sarcasm, ...) about the errors and the control set. `data`: the validation,
    train and cues files; `selection`: `items` (llm.items) and `sample` (the cascade's); `bootstrap`: the tag rates'
    intervals; `outputs`: table, summary."""
    import pandas as pd

    items, sample = selection["items"], selection["sample"]
    validation = read_split(data["validation"])
    votes = encoder_votes(runs, labels)
    scored = items_to_score(validation, votes, items, sample, job.prompt["seed"])
    records, session, model_path = (
        [],
        {"scored_now": 0, "from_cache": 0, "load_seconds": 0.0, "score_seconds": 0.0},
        None,
    )
    if len(scored):  # with nothing to ask, the model is not even looked for
        model_path = resolve_model(job.entry, job.where)
        config = prompt_config(job.prompt, data["train"], labels)
        records, session = score_sentences(items_of(scored), model_path, job, config, labels)
    out = answer_table(scored, votes, records, labels)
    tagged = out["group"].isin(["error", "control"]).to_numpy()
    for tag, question in job.tags.items():  # the LLM's judgement of each error and control sentence, cached alike
        out[f"tag_{tag}"] = np.nan
        if tagged.any():
            prompt = tag_prompt(job.prompt, question)
            answers, asked = score_sentences(items_of(scored[tagged]), model_path, job, prompt, TAG_ANSWERS)
            session = {key: session[key] + asked[key] for key in session}  # the tag questions' scoring counts too
            out.loc[tagged, f"tag_{tag}"] = [answer["probs"][0] for answer in answers]
    cues = pd.read_csv(data["cues"])
    flagged = cues.loc[cues["label_issue"].astype(bool), "index"] if "label_issue" in cues else []
    out["label_issue"] = out["index"].isin(flagged)  # cleanlab doubts the gold label
    result = _summarise(out, votes, cues) | {"tags": tag_rates(out, job.tags, bootstrap)}
    # The LLM alone on validation sentences drawn without regard to the encoders: the cascade's sample, or every
    # sentence when items.all_validation asked for them.
    alone = out["in_cascade"] if sample["enabled"] else np.full(len(out), bool(items["all_validation"]))
    prompt_tokens, reused = sum(r["prompt_tokens"] for r in records), sum(r["reused_tokens"] for r in records)
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
        # Seconds the model took per sentence when it scored them, whether in this job or an earlier one.
        "seconds_per_item": float(out["llm_seconds"].mean()) if len(out) else None,
        "seconds": float(out["llm_seconds"].sum()),
        "prompt_tokens": int(prompt_tokens),
        "reused_prompt_tokens": int(reused),
        "reused_prompt_share": reused / prompt_tokens if prompt_tokens else None,
        "session": session,
        "missing_runs": runs.missing,
    }
    write_csv(outputs["table"], out)
    write_json(outputs["summary"], result)
    return result


# A tag question is answered yes or no; its probability of yes is read like a label's.
TAG_ANSWERS = ("yes", "no")


def tag_prompt(prompt: dict, question: dict) -> PromptConfig:
    """The entry's prompt asking a tag question instead of the label: its own instruction and yes/no words, no shots."""
    return PromptConfig(system=prompt.get("system"), instruction=question["instruction"],
                        answer_prefix=prompt.get("answer_prefix", ""), plain_template=prompt.get("plain_template"),
                        verbalizers={answer: question["verbalizers"][answer] for answer in TAG_ANSWERS}, shots=[])  # fmt: skip


def tag_rates(out, tags: dict, bootstrap: dict) -> dict:
    """Per tag: the share of errors and of control sentences the LLM says yes to (probability of yes above one
    half), with bootstrap intervals, and the interval of their difference."""

    rates = {}
    for tag in tags:
        said = {
            group: (out.loc[out["group"] == group, f"tag_{tag}"] > 0.5).to_numpy(float)
            for group in ("error", "control")
        }
        rates[tag] = {group: {"items": len(values), "rate": float(values.mean()) if len(values) else None,
                              "ci": bootstrap_ci(values, **ci_settings(bootstrap))} for group, values in said.items()}  # fmt: skip
        rates[tag]["difference_ci"] = difference_ci(said["error"], said["control"], **ci_settings(bootstrap))
    return rates


def items_to_score(validation, votes: dict, items: dict, sample: dict, seed: int):
    """The validation rows to ask about, with their `group` (error, control, other) and `in_cascade`."""
    import pandas as pd

    chosen = select_items(validation, votes, items, seed)
    in_cascade = np.zeros(len(validation), dtype=bool)
    in_cascade[cascade_sample(len(validation), sample)] = True
    group = pd.Series("", index=validation["index"].to_numpy(), dtype=object)
    group[chosen["index"].to_numpy()] = chosen["group"].to_numpy()
    group[(group == "").to_numpy() & in_cascade] = "other"
    scored = validation.assign(group=group.to_numpy(), in_cascade=in_cascade, position=np.arange(len(validation)))
    return scored[scored["group"] != ""].reset_index(drop=True)


def prompt_config(prompt: dict, train_path, labels: Sequence[str]) -> PromptConfig:
    import pandas as pd

    shots = _shots(pd.read_parquet(train_path), prompt["shots"], labels, prompt["seed"])
    return PromptConfig(system=prompt.get("system"), instruction=prompt["instruction"],
                        answer_prefix=prompt.get("answer_prefix", ""), plain_template=prompt.get("plain_template"),
                        verbalizers=prompt["verbalizers"], shots=shots)  # fmt: skip


def answer_table(scored, votes: dict, records: list[dict], labels: Sequence[str]):
    """One row per item asked: the sentence, gold, group, every run group's majority vote, the LLM's answer."""
    texts = ["sentence", "text_pair"] if "text_pair" in scored else ["sentence"]
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


def items_of(split) -> list[Item]:
    """A split's items as the LLM is asked them: each sentence, or each pair of texts."""
    if "text_pair" in split:
        return list(zip(split["text"], split["text_pair"]))
    return split["text"].tolist()


def _shots(train, k: int, labels: Sequence[str], seed: int) -> list[tuple[Item, str]]:
    """k examples from train, balanced over labels as far as k allows, in a seeded order."""
    if k == 0:
        return []
    rng = np.random.default_rng(seed)
    picks = []
    for i in range(k):
        label = i % len(labels)
        pool = train.index[train["label"] == label]
        picks.append(int(rng.choice(pool)))
    rng.shuffle(picks)
    items = items_of(train)
    return [(items[train.index.get_loc(i)], labels[int(train.loc[i, "label"])]) for i in picks]


def _summarise(out, votes: dict, cues) -> dict:
    """LLM accuracy per group; per run group what the LLM fixes and breaks, overall and on the sentences whose gold
    label cleanlab flags (there a "fix" may be the LLM agreeing with a wrong label); accuracy per cue family."""
    groups = {
        name: {"items": len(g), "llm_accuracy": float(g["llm_correct"].mean())} for name, g in out.groupby("group")
    }
    per_backbone = {}
    for backbone in votes:
        encoder_right = out[f"{backbone}_predicted"] == out["gold"]
        counts = {}
        for part, rows in (("", slice(None)), ("_on_label_issues", out["label_issue"])):
            right, llm = encoder_right[rows], out.loc[rows, "llm_correct"]
            counts |= {f"encoder_wrong_items{part}": int((~right).sum()), f"llm_fixes{part}": int((~right & llm).sum()),
                       f"encoder_right_items{part}": int(right.sum()), f"llm_breaks{part}": int((right & ~llm).sum())}  # fmt: skip
        agreement = float((out[f"{backbone}_predicted"] == out["llm_predicted"]).mean()) if len(out) else None
        per_backbone[backbone] = counts | {"agreement": agreement}
    scored = {"groups": groups, "backbones": per_backbone}
    if len(out):
        # A pair's families on either text (the failure modes' reading), not the per-text columns.
        families = [c for c in cues.columns if c not in ("index", "text", "text_pair", "label", "label_issue")
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

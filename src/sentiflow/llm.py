"""Ask a local quantized instruction LLM (llama.cpp via llama-cpp-python) for a sentence's label.

No free generation: the prompt is built with the model's chat template, then the log-probabilities of each
label's verbalizer tokens are read after the prompt, which gives a label and a probability per label from one
forward pass (plus one per extra verbalizer token). The prompt prefix shared by all items (system prompt,
few-shot examples, instruction start) stays in llama.cpp's KV cache between items.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas is imported where it is used: the scorer alone does not need it
    import pandas as pd

GGUF_MAGIC = b"GGUF"


class LLMError(RuntimeError):
    """The LLM cannot be used as configured; the message says what is wrong and what to set."""


def resolve_model(model: dict) -> Path:
    """A local .gguf path, or a file downloaded from a hub repository (online users)."""
    if model.get("path"):
        path = Path(model["path"]).expanduser()
    elif model.get("hub_repo") and model.get("hub_file"):
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(model["hub_repo"], model["hub_file"], revision=model.get("revision")))
        except Exception as err:
            raise LLMError(
                f"could not download {model['hub_file']} from {model['hub_repo']} on the Hugging Face hub "
                f"({type(err).__name__}: {' '.join(str(err).split())}). Offline, copy the .gguf file here and set llm.model.path"
            ) from err
    else:
        raise LLMError("set llm.model.path (a local .gguf file) or llm.model.hub_repo and llm.model.hub_file")
    check_gguf(path)
    return path


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise LLMError(f"{path}: GGUF model file not found")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise LLMError(f"{path}: not a GGUF file (wrong magic bytes)")


@dataclass
class PromptConfig:
    system: str | None
    instruction: str  # contains {sentence}
    answer_prefix: str
    plain_template: str | None  # used when the model has no chat template; contains {system}, {prompt}
    verbalizers: dict[str, list[str]]  # label -> words that mean it
    shots: list[tuple[str, str]]  # (sentence, label) examples shown before the item


def _schema_prompt() -> PromptConfig:
    from sentiflow.config import defaults

    prompt = defaults("llm", "prompt")
    return PromptConfig(system=prompt["system"], instruction=prompt["instruction"], answer_prefix=prompt["answer_prefix"],
                        plain_template=prompt["plain_template"], verbalizers=prompt["verbalizers"], shots=[])


# The schema's default prompt, for callers outside the workflow (benchmarks, notebooks).
DEFAULT_PROMPT = _schema_prompt()


class LabelScorer:
    """Scores labels for sentences with one llama.cpp model, reusing the KV cache of the shared prompt prefix."""

    def __init__(self, model_path: Path, prompt: PromptConfig, labels: Sequence[str], n_ctx: int, threads: int, seed: int = 0, reuse_prefix: bool = True):
        import llama_cpp

        self.labels = list(labels)
        self.prompt = prompt
        self.reuse_prefix = reuse_prefix
        missing = [label for label in self.labels if not prompt.verbalizers.get(label)]
        if missing:
            raise LLMError(f"llm.verbalizers has no words for label(s) {missing}")
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                n_batch=min(512, n_ctx), seed=seed, verbose=False, logits_all=False,
            )
        except Exception as err:  # llama.cpp says only "failed to load model" for truncated files
            raise LLMError(f"{model_path}: llama.cpp could not load this GGUF file ({err}); is it complete?") from err
        self.template = self.llm.metadata.get("tokenizer.chat_template")
        if self.template is None and prompt.plain_template is None:
            raise LLMError(f"{model_path}: the model has no chat template; set llm.plain_template")
        self.reused_tokens = self.prompt_tokens = 0
        self.continuations = {
            label: [self._tokens(word, special=False) for word in prompt.verbalizers[label]] for label in self.labels
        }

    def _tokens(self, text: str, special: bool = True, bos: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=special)

    def render(self, sentence: str) -> str:
        """The full prompt text for one sentence, ending where the answer's first word belongs."""
        messages = []
        if self.prompt.system:
            messages.append({"role": "system", "content": self.prompt.system})
        for example, label in self.prompt.shots:
            messages.append({"role": "user", "content": self.prompt.instruction.format(sentence=example)})
            messages.append({"role": "assistant", "content": self.prompt.verbalizers[label][0]})
        messages.append({"role": "user", "content": self.prompt.instruction.format(sentence=sentence)})
        if self.template is not None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            formatter = Jinja2ChatFormatter(
                template=self.template,
                eos_token=self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", "replace"),
                bos_token=self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", "replace"),
            )
            text = formatter(messages=messages).prompt
        else:
            turns = "\n\n".join(m["content"] if m["role"] == "user" else f"{self.prompt.answer_prefix}{m['content']}" for m in messages if m["role"] != "system")
            text = self.prompt.plain_template.format(system=self.prompt.system or "", prompt=turns)
        return text + self.prompt.answer_prefix

    def score(self, sentence: str) -> dict[str, float]:
        """Probability of each label (normalised over the labels), from the verbalizers' token log-probabilities."""
        tokens = self._tokens(self.render(sentence), bos=self._needs_bos())
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


def _logsumexp(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    top = values.max()
    return float(top + math.log(np.exp(values - top).sum()))


def encoder_votes(runs_by_backbone: dict, which: str, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per backbone and validation sentence: the majority label over seeds and its mean probability."""
    import pandas as pd

    votes = {}
    for backbone, runs in runs_by_backbone.items():
        tables = [run.predictions(which) for run in runs]
        probs = np.stack([t.filter(like="prob_").to_numpy() for t in tables])  # seeds x sentences x classes
        preds = probs.argmax(2)
        counts = np.stack([(preds == k).sum(0) for k in range(len(labels))], axis=1)
        majority = counts.argmax(1)  # ties go to the lower class id
        votes[backbone] = pd.DataFrame({
            "index": tables[0]["index"].to_numpy(),
            "predicted": majority,
            "confidence": probs.mean(0)[np.arange(len(majority)), majority],
            "wrong_in_seeds": (preds != tables[0]["gold"].to_numpy()).sum(0),
        })
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


def compare(model: dict, prompt: dict, items_config: dict, labels: Sequence[str], metadata_paths, expected, analysis: dict,
            validation_path, train_path, cues_path, threads: int, *, table, summary) -> dict:
    """The llm_compare rule: score the selected sentences with the LLM and compare with the encoders."""
    import pandas as pd
    from tqdm.auto import tqdm

    from sentiflow.atomic import write_csv, write_json
    from sentiflow.data import read_split
    from sentiflow.runs import by_backbone, load_runs

    loaded, missing = load_runs(metadata_paths, expected, analysis["allow_partial"])
    validation = read_split(validation_path)
    votes = encoder_votes(by_backbone(loaded), analysis["select_epoch"], labels)
    chosen = select_items(validation, votes, items_config, prompt["seed"])

    rows, started = [], time.time()
    scorer, model_path = None, None
    if len(chosen):  # with nothing to ask, the model is not even loaded
        model_path = resolve_model(model)
        shots = _shots(pd.read_parquet(train_path), prompt["shots"], labels, prompt["seed"])
        scorer = LabelScorer(model_path, PromptConfig(
            system=prompt.get("system"), instruction=prompt["instruction"], answer_prefix=prompt.get("answer_prefix", ""),
            plain_template=prompt.get("plain_template"), verbalizers=prompt["verbalizers"], shots=shots,
        ), labels, n_ctx=model["n_ctx"], threads=threads, seed=prompt["seed"], reuse_prefix=prompt.get("reuse_prefix", True))
        for sentence in tqdm(chosen["text"], desc="llm", mininterval=5.0):
            rows.append(scorer.score(sentence))
    seconds = time.time() - started

    out = chosen.rename(columns={"text": "sentence", "label": "gold_id"})[["index", "sentence", "gold_id", "group"]]
    out.insert(2, "gold", [labels[g] for g in out["gold_id"]])
    position = out["index"].map(dict(zip(validation["index"], range(len(validation))))).to_numpy()
    for backbone, vote in votes.items():
        out[f"{backbone}_predicted"] = [labels[k] for k in vote["predicted"].to_numpy()[position]]
        out[f"{backbone}_confidence"] = vote["confidence"].to_numpy()[position]
        out[f"{backbone}_wrong_in_seeds"] = vote["wrong_in_seeds"].to_numpy()[position]
    probs = np.array([[row[label] for label in labels] for row in rows]).reshape(len(out), len(labels))
    for k, label in enumerate(labels):
        out[f"llm_prob_{label}"] = probs[:, k]
    out["llm_predicted"] = [labels[k] for k in probs.argmax(1)] if len(out) else []
    out["llm_correct"] = out["llm_predicted"] == out["gold"]
    out = out.drop(columns="gold_id")

    result = _summarise(out, votes, cues_path)
    result |= {
        "model": str(model_path or model.get("path") or model.get("hub_file")),
        "threads": threads,
        "items": int(len(out)),
        "no_errors": bool((out["group"] == "error").sum() == 0),
        "seconds": seconds,
        "seconds_per_item": seconds / len(out) if len(out) else None,
        "prompt_tokens": scorer.prompt_tokens if scorer else 0,
        "reused_prompt_tokens": scorer.reused_tokens if scorer else 0,
        "missing_runs": missing,
    }
    write_csv(table, out)
    write_json(summary, result)
    return result


def _shots(train, k: int, labels: Sequence[str], seed: int) -> list[tuple[str, str]]:
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
    return [(train.loc[i, "text"], labels[int(train.loc[i, "label"])]) for i in picks]


def _summarise(out, votes: dict, cues_path) -> dict:
    import pandas as pd

    groups = {name: {"items": int(len(g)), "llm_accuracy": float(g["llm_correct"].mean())} for name, g in out.groupby("group")}
    scored = {"groups": groups}
    if "other" in groups:  # the whole validation set was asked: the LLM's own accuracy on it
        scored["all_validation_llm_accuracy"] = float(out["llm_correct"].mean())
    per_backbone = {}
    for backbone in votes:
        encoder_right = out[f"{backbone}_predicted"] == out["gold"]
        per_backbone[backbone] = {
            "encoder_wrong_items": int((~encoder_right).sum()),
            "llm_fixes": int((~encoder_right & out["llm_correct"]).sum()),
            "encoder_right_items": int(encoder_right.sum()),
            "llm_breaks": int((encoder_right & ~out["llm_correct"]).sum()),
            "agreement": float((out[f"{backbone}_predicted"] == out["llm_predicted"]).mean()) if len(out) else None,
        }
    scored["backbones"] = per_backbone
    cues = pd.read_csv(cues_path) if cues_path else None
    if cues is not None and len(out):
        tagged = out.merge(cues.drop(columns=["text", "label"]), on="index", how="left")
        families = [c for c in cues.columns if c not in ("index", "text", "label")]
        scored["by_cue"] = {
            family: {
                group: {"items": int(g[family].sum()), "llm_accuracy": float(g.loc[g[family], "llm_correct"].mean()) if g[family].any() else None}
                for group, g in tagged.groupby("group")
            }
            for family in families
        }
    return scored

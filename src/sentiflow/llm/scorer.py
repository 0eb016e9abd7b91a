"""Ask a local quantized instruction LLM (llama.cpp via llama-cpp-python) for an item's label.

No free generation: the prompt is built with the model's chat template, then the log-probabilities of each
label's verbalizer tokens are read after the prompt, which gives a label and a probability per label from one
forward pass (plus one per extra verbalizer token). The prompt prefix shared by all items (system prompt,
few-shot examples, instruction start) stays in llama.cpp's KV cache between items.

This module owns the model (finding and checking the GGUF file), the prompt (`PromptConfig`, chat templating)
and the scoring; it needs numpy only, no pandas, so a benchmark or a notebook can score without the tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiflow.config import defaults

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
            # Imported here: only an entry without a local path needs the hub client.
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

    @classmethod
    def from_settings(cls, prompt: dict, **changes) -> PromptConfig:
        """The prompt of an `llm.prompt` block with `changes` laid over it; no shots unless `changes` gives them."""
        settings = {"system": prompt.get("system"), "answer_prefix": prompt.get("answer_prefix", ""),
                    "plain_template": prompt.get("plain_template"), "shots": []}  # fmt: skip
        required = {key: prompt[key] for key in ("instruction", "verbalizers") if key not in changes}
        return cls(**settings | required | changes)


def default_prompt() -> PromptConfig:
    """The schema's default prompt, without shots, for callers outside the workflow (benchmarks, notebooks)."""
    return PromptConfig.from_settings(defaults("llm", "prompt"))


def instruct(instruction: str, item: Item) -> str:
    """The instruction with the item's texts in it: `{sentence}` (the text, or a pair's first), `{sentence1}` and
    `{sentence2}` (a pair's two texts)."""
    texts = (item,) if isinstance(item, str) else tuple(item)
    second = texts[1] if len(texts) > 1 else ""
    return instruction.format(sentence=texts[0], sentence1=texts[0], sentence2=second)


class LabelScorer:
    """Scores labels for sentences with one llama.cpp model, reusing the KV cache of the shared prompt prefix."""

    def __init__(self, model_path: Path, prompt: PromptConfig, labels: Sequence[str], n_ctx: int, threads: int, seed: int = 0,
                 reuse_prefix: bool = True, n_gpu_layers: int = 0, where: str = "llm"):  # fmt: skip
        # llama_cpp is imported where a model is loaded or read: importing it loads its shared library (half a
        # second), which importing this module (a compare job with nothing to ask, `bench --help`) need not cost.
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


def _logsumexp(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    top = values.max()
    return float(top + math.log(np.exp(values - top).sum()))

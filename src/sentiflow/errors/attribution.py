"""Which words a fine-tuned encoder leaned on: Integrated Gradients (captum) over the word embeddings, summed into words.

Words are those of `sentiflow.words` (the shortcut statistic's), found on the text as written; each subword token goes
to the word that holds most of its characters (the fast tokenizer's offsets), so "n't" is one word however the
tokenizer splits it, and every word keeps its character offsets. Texts are tokenized as training tokenized them (the
tokenize rule's `tokens.Tokenization`: cut at its `max_length`, longest first for a pair, with segment ids exactly
where training fed them): a word cut off was never seen and is not attributed.

Every seed is attributed toward the seed majority's prediction (and toward gold), so that averaging a word's score
over seeds averages one quantity even where a seed predicted another class.

Integrated Gradients (Sundararajan et al. 2017) attributes f(x) - f(baseline) to the inputs; captum's convergence
delta says how far the numerical integral is from that total. A sentence passes when the delta is within
`tolerance` (5%) of the logit difference toward both classes; if too few sentences pass, the failing ones are
integrated again with twice the steps, up to `max_steps`, and every sentence records the steps it used and whether
it passed. Only what passed is kept: a sentence's words (with one seed's checkpoint) enter the word tables and the
deletion test only when its integral with that checkpoint converged; the convergence table keeps every sentence,
and `convergence_summary` counts what was left out.

Its settings are those of `analysis.attribution` under the schema's names, with the schema's defaults
(`settings_with_defaults`). The deletion test checks that the attributions mean something, on each error of the
seed majority and each seed that made it: ERASER's comprehensiveness and sufficiency (DeYoung et al. 2020), the
drop of the predicted class's probability when the top-k words are deleted, and when only they are kept, against k
random words; and, under their own names, the share of errors that deleting the top-k words turns to gold, and that
it turns away from the prediction (to gold or, with more than two classes, to a third class).
"""

from __future__ import annotations

import bisect
import contextlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sentiflow import config
from sentiflow import words as segmentation
from sentiflow.analysis.metrics import bootstrap_ci, ci_settings
from sentiflow.train.batches import HostBatches, model_inputs
from sentiflow.train.evaluation import logits_in_order
from sentiflow.train.modeling import load_trained
from sentiflow.train.tokens import Encoded, Tokenization, packed

# Not settings, since they change how fast the numbers come, not the numbers: a sentence's IG result does not
# depend on the sentences integrated beside it.
# Below this share of passing sentences, the failing ones are integrated again: a few hard sentences may stay
# unconverged rather than doubling the steps of a whole group for them.
MIN_PASS_SHARE = 0.95
IG_BATCH = 16  # sentences per IG call, each padded only to its batch's longest (they are sorted by length)
# Interpolated sequences per forward pass: one pass integrates an IG batch at the default 20 steps.
INTERNAL_BATCH = 320
# The deletion test's forward passes keep nothing for a backward pass, so they take larger batches.
PREDICT_BATCH = 4 * IG_BATCH

WORD_COLUMNS = ["index", "seed", "field", "position", "start", "end", "word", "score_predicted", "score_gold"]
CONVERGENCE_COLUMNS = ["index", "seed", "predicted", "gold", "difference_predicted", "delta_predicted",
                       "difference_gold", "delta_gold", "steps", "passed"]  # fmt: skip
# The deletion test's variants of a sentence, in the order they are predicted: the whole, without the top-k words,
# without k random words, only the top-k words, only the k random words.
VARIANTS = ["whole", "without_top", "without_random", "only_top", "only_random"]
# Per measure, what its top and random columns are: ERASER's two, then the two flip shares.
MEASURES = ["comprehensiveness", "sufficiency", "turned_to_gold", "turned_away"]
CASE_COLUMNS = ["index", "k", "words", "predicted", "gold", "deleted_top"]
DELETION_COLUMNS = ["index", "seed", "k", "words", "predicted", "gold", "deleted_top",
                    *(f"prob_{v}" for v in VARIANTS), *(f"class_{v}" for v in VARIANTS[1:]),
                    *(f"{m}_{s}" for m in MEASURES for s in ("top", "random"))]  # fmt: skip
DELETION_SUMMARY_COLUMNS = ["k", "measure", "sentences", "cases", "top", "top_ci_low", "top_ci_high", "random",
                            "random_ci_low", "random_ci_high", "difference", "difference_ci_low",
                            "difference_ci_high"]  # fmt: skip
# Float32 noise in the integral: a logit difference this small passes with any delta below it.
_ABSOLUTE_FLOOR = 1e-5


class AttributionError(RuntimeError):
    """The model or tokenizer cannot be attributed; the message says why."""


def settings_with_defaults(settings: dict) -> dict:
    """`settings` (keys of `analysis.attribution`) over the schema's defaults, the one source of them."""
    return config.defaults("analysis", "attribution") | settings


@dataclass
class Sentence:
    """One tokenised text (or text pair) with what maps its tokens back to words."""

    texts: tuple[str, ...]
    inputs: dict[str, list[int]]  # what training fed the model: token ids, and segment ids where it fed them
    word_of: list[tuple[int, int] | None]  # per token: (field, word index within the field); None: in no word
    spans: tuple[list[tuple[int, int]], ...]  # per field: each word's character offsets in its text

    def __len__(self) -> int:
        return len(self.word_of)

    @property
    def special(self) -> np.ndarray:
        """Per token, whether it belongs to no word: [CLS], [SEP] and the like (kept in the baseline)."""
        return np.array([w is None for w in self.word_of])

    def words(self) -> list[tuple[int, int]]:
        """(field, position) of each word, in token order."""
        return list(dict.fromkeys(w for w in self.word_of if w is not None))

    def word_text(self, word: tuple[int, int]) -> str:
        start, end = self.spans[word[0]][word[1]]
        return self.texts[word[0]][start:end]

    def without(self, deleted: set[tuple[int, int]]) -> dict[str, list[int]]:
        """The inputs with every subword token of the deleted words dropped (special tokens kept)."""
        return self._keeping(lambda word: word not in deleted)

    def only(self, kept: set[tuple[int, int]]) -> dict[str, list[int]]:
        """The inputs with the tokens of the kept words and the special tokens alone."""
        return self._keeping(lambda word: word in kept)

    def _keeping(self, wanted) -> dict[str, list[int]]:
        keep = [t for t, w in enumerate(self.word_of) if w is None or wanted(w)]
        return {name: [values[t] for t in keep] for name, values in self.inputs.items()}


def word_of_tokens(offsets: Sequence[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int | None]:
    """Per token (character offsets in one text), the word (index into `spans`) that holds most of its characters,
    the first on a tie: WordPiece's "doesn" of "doesn't" goes to "does", its "'" and "t" to "n't". None for a token
    with no character in any word (special tokens have empty offsets). A word left with no token (an unknown-token
    run that covers it and the word before) is not attributed and is shown uncoloured."""
    ends = [end for _, end in spans]
    found = []
    for start, end in offsets:
        best, most = None, 0
        i = bisect.bisect_right(ends, start)  # the first word that ends after the token starts
        while i < len(spans) and spans[i][0] < end:
            overlap = min(end, spans[i][1]) - max(start, spans[i][0])
            if overlap > most:
                best, most = i, overlap
            i += 1
        found.append(best)
    return found


@dataclass
class TokenAttributions:
    """One IG pass (or the refined result) over sentence-target jobs."""

    scores: list[np.ndarray]  # per job: one score per token (attributions summed over the hidden dimension)
    difference: np.ndarray  # per job: f(x) - f(baseline) of the target logit
    delta: np.ndarray  # per job: captum's convergence delta
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, int))


def embedding_layer(model) -> torch.nn.Embedding:
    try:
        layer = model.get_input_embeddings()
    except NotImplementedError:  # transformers' answer for a model that does not say where its embeddings are
        layer = None
    if not isinstance(layer, torch.nn.Embedding):
        model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise AttributionError(
            f"model type {model_type!r}: the backbone's word-embedding layer cannot be found "
            f"(get_input_embeddings() gave {type(layer).__name__}, not torch.nn.Embedding)"
        )
    return layer


def encode(
    tokenizer, texts: Sequence[str], pairs: Sequence[str] | None, model, tokenization: Tokenization | None = None
):
    """Each text (with its pair) tokenised by the checkpoint's fast tokenizer as training tokenised it: cut at
    `tokenization.max_length` (longest first), with segment ids where `tokenization` says (default: the decision
    the tokenize rule makes, `Tokenization.of`, for this tokenizer and model); tokens mapped to `sentiflow.words` words."""
    if not getattr(tokenizer, "is_fast", False):
        raise AttributionError(f"{type(tokenizer).__name__} is not a fast tokenizer; word offsets need one")
    if pairs is not None and len(pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(pairs)} second texts")
    if tokenization is None:
        tokenization = Tokenization.of(tokenizer, model.config, pairs is not None)
    inputs_fed = ["input_ids", "token_type_ids"] if tokenization.segment_ids else ["input_ids"]
    truncation = {"truncation": "longest_first", "max_length": tokenization.max_length}
    sentences = []
    for i, text in enumerate(texts):
        fields = (text,) if pairs is None else (text, pairs[i])
        encoding = tokenizer(*fields, return_offsets_mapping=True, **truncation)
        spans = tuple(segmentation.spans(field) for field in fields)
        field_of, offsets = encoding.sequence_ids(), encoding["offset_mapping"]
        word_of: list[tuple[int, int] | None] = [None] * len(field_of)
        for f in range(len(fields)):
            tokens = [t for t, owner in enumerate(field_of) if owner == f]
            for t, w in zip(tokens, word_of_tokens([offsets[t] for t in tokens], spans[f])):
                word_of[t] = None if w is None else (f, w)
        inputs = {name: list(encoding[name]) for name in inputs_fed}
        sentences.append(Sentence(texts=fields, inputs=inputs, word_of=word_of, spans=spans))
    return sentences


def as_split(rows: list[dict[str, list[int]]], labels: np.ndarray) -> Encoded:
    """Token inputs as a split that training's batches pad: the attention mask follows from the lengths (the
    tokenizer's is all ones), segment ids travel where the model takes them."""
    types = [row["token_type_ids"] for row in rows] if rows and "token_type_ids" in rows[0] else None
    return packed([row["input_ids"] for row in rows], labels, types=types)


def baseline(sentence: Sentence, pad_id: int) -> dict[str, list[int]]:
    # Every word becomes the pad token while [CLS]/[SEP], positions (`position_ids`), segment ids and the attention
    # mask stay: the input and its baseline differ in the words alone, so completeness splits f(x) - f(baseline)
    # among the words and the special tokens get exactly zero. The pad embedding is the usual "no word" reference
    # (captum's BERT tutorial); an all-zero vector would be one the encoder never saw.
    ids = [i if s else pad_id for i, s in zip(sentence.inputs["input_ids"], sentence.special)]
    return sentence.inputs | {"input_ids": ids}


def position_ids(model, attention_mask: torch.Tensor) -> torch.Tensor | None:
    """The positions the model gives the input's tokens, to pass for the input and its baseline alike.

    RoBERTa's family derives positions from the ids (a pad id sits at the padding index, the words count on after
    it), so left to itself the all-pad baseline would get other positions than the path captum integrates, and the
    integral could never converge to f(x) - f(baseline). Those families say so by a padding index on their position
    table; the others number tokens from 0. None where the model takes no positions."""
    if "position_ids" not in inspect.signature(model.forward).parameters:
        return None
    table = getattr(getattr(model.base_model, "embeddings", None), "position_embeddings", None)
    padding = getattr(table, "padding_idx", None)
    if padding is None:
        return torch.arange(attention_mask.shape[1], device=attention_mask.device).expand_as(attention_mask)
    return attention_mask.cumsum(1) * attention_mask + padding


@contextlib.contextmanager
def frozen(model):
    """Eval mode with no parameter gradients (captum only needs gradients w.r.t. the embeddings), undone after."""
    training, wanted = model.training, [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    try:
        yield model
    finally:
        model.train(training)
        for parameter, flag in zip(model.parameters(), wanted):
            parameter.requires_grad_(flag)


def integrate(model, sentences: list[Sentence], targets: np.ndarray, steps: int, device) -> TokenAttributions:
    """One IG pass of each sentence toward its target class, in batches of similar length."""
    from captum.attr import LayerIntegratedGradients

    pad_id, extra = pad_token_id(model), []

    def logits(input_ids, *others):
        return model(input_ids=input_ids, **dict(zip(extra, others))).logits

    explainer = LayerIntegratedGradients(logits, embedding_layer(model))
    scores, difference, delta = [None] * len(sentences), np.zeros(len(sentences)), np.zeros(len(sentences))
    order = np.argsort([len(s) for s in sentences], kind="stable")
    inputs = HostBatches(as_split([s.inputs for s in sentences], targets), pad_id, device)
    bases = HostBatches(as_split([baseline(s, pad_id) for s in sentences], targets), pad_id, device)
    inputs.set_order(order)
    bases.set_order(order)
    for start in range(0, len(order), IG_BATCH):
        stop = min(start + IG_BATCH, len(order))
        rows = inputs.batch(start, stop)
        batch, target = model_inputs(rows), rows["labels"]  # the split's labels are the target classes
        positions = position_ids(model, batch["attention_mask"])
        batch |= {} if positions is None else {"position_ids": positions}
        extra[:] = [name for name in batch if name != "input_ids"]
        attributions, deltas = explainer.attribute(
            batch["input_ids"], bases.batch(start, stop)["input_ids"], target=target,
            additional_forward_args=tuple(batch[name] for name in extra), n_steps=steps,
            internal_batch_size=max(INTERNAL_BATCH, stop - start), return_convergence_delta=True,
        )  # fmt: skip
        per_token = attributions.sum(-1).detach().cpu().numpy()
        for j, scored, d in zip(order[start:stop], per_token, deltas.detach().cpu().numpy()):
            scores[j] = scored[: len(sentences[j])]
            # captum's delta is sum(attributions) - (f(x) - f(baseline)), which gives the difference without two
            # more forward passes; padding positions are pad in both, so they add nothing to the sum.
            difference[j], delta[j] = float(scored.sum() - d), float(d)
    return TokenAttributions(scores, difference, delta, np.full(len(sentences), steps))


def pad_token_id(model) -> int:
    pad = getattr(model.config, "pad_token_id", None)
    if pad is None:
        raise AttributionError(f"model type {model.config.model_type!r} has no pad token; the baseline needs one")
    return int(pad)


def converged(result: TokenAttributions, tolerance: float) -> np.ndarray:
    return np.abs(result.delta) <= np.maximum(tolerance * np.abs(result.difference), _ABSOLUTE_FLOOR)


def attribute_tokens(model, sentences: list[Sentence], jobs: list[tuple[int, int]], settings: dict, device):
    """IG for each (sentence, target class) job, integrating again with doubled steps the jobs of failing sentences
    while fewer than MIN_PASS_SHARE of the sentences pass (a sentence passes when all its jobs do)."""
    job_sentences = [sentences[j] for j, _ in jobs]
    owner = np.array([j for j, _ in jobs], dtype=int)
    targets = np.array([t for _, t in jobs], dtype=int)
    steps = settings["steps"]
    result = integrate(model, job_sentences, targets, steps, device)
    while True:
        job_passed = converged(result, settings["tolerance"])
        failed_sentences = np.unique(owner[~job_passed])
        share = 1 - len(failed_sentences) / max(len(np.unique(owner)), 1)
        if share >= MIN_PASS_SHARE or 2 * steps > settings["max_steps"]:
            return result, job_passed
        steps *= 2
        again = np.flatnonzero(~job_passed)
        redone = integrate(model, [job_sentences[i] for i in again], targets[again], steps, device)
        for i, k in enumerate(again):
            result.scores[k] = redone.scores[i]
        result.difference[again], result.delta[again], result.steps[again] = redone.difference, redone.delta, steps


def word_scores(sentence: Sentence, token_scores: np.ndarray) -> list[dict]:
    """The token scores summed over each word's subword tokens; special tokens dropped."""
    totals: dict[tuple[int, int], float] = {}
    for word, score in zip(sentence.word_of, token_scores):
        if word is not None:
            totals[word] = totals.get(word, 0.0) + float(score)
    return [
        {"field": f, "position": p, "start": sentence.spans[f][p][0], "end": sentence.spans[f][p][1],
         "word": sentence.word_text((f, p)), "score": s}
        for (f, p), s in totals.items()
    ]  # fmt: skip


def attribute(model, sentences: list[Sentence], predicted: np.ndarray, gold: np.ndarray, settings: dict, device):
    """Word attributions toward the predicted and the gold class (one IG run when they agree) and the convergence
    of each sentence. Rows are numbered by sentence position (`index`)."""
    settings = settings_with_defaults(settings)
    jobs = [(j, int(c)) for j in range(len(sentences)) for c in dict.fromkeys((predicted[j], gold[j]))]
    with frozen(model):
        result, job_passed = attribute_tokens(model, sentences, jobs, settings, device)
    by_job = {job: k for k, job in enumerate(jobs)}
    words, convergence = [], []
    for j, sentence in enumerate(sentences):
        p, g = by_job[j, int(predicted[j])], by_job[j, int(gold[j])]
        toward_gold = {(w["field"], w["position"]): w["score"] for w in word_scores(sentence, result.scores[g])}
        for w in word_scores(sentence, result.scores[p]):
            score = w.pop("score")
            words.append(
                {"index": j, **w, "score_predicted": score, "score_gold": toward_gold[w["field"], w["position"]]}
            )
        convergence.append({
            "index": j, "predicted": int(predicted[j]), "gold": int(gold[j]),
            "difference_predicted": result.difference[p], "delta_predicted": result.delta[p],
            "difference_gold": result.difference[g], "delta_gold": result.delta[g],
            "steps": int(max(result.steps[p], result.steps[g])), "passed": bool(job_passed[p] and job_passed[g]),
        })  # fmt: skip
    without_seed = ([c for c in columns if c != "seed"] for columns in (WORD_COLUMNS, CONVERGENCE_COLUMNS))
    return tuple(pd.DataFrame(rows, columns=next(without_seed)) for rows in (words, convergence))


def deletion_test(model, sentences, words: pd.DataFrame, predicted, own, gold, settings: dict, seed: int, device):
    """On each error whose `predicted` class (the seed majority's, which the words were attributed toward) this
    seed predicted too (`own`), the sentence re-predicted without its top-k words by attribution, without k random
    words, with only the top-k and with only k random words. A k needs more than k words in the sentence (deleting
    every word tests nothing). The random words are drawn from settings["seed"] and the run's `seed`."""
    settings = settings_with_defaults(settings)
    rng = np.random.default_rng([settings["seed"], seed])
    cases, rows = [], []
    by_sentence = dict(tuple(words.groupby("index")))
    for j in np.flatnonzero((np.asarray(predicted) != np.asarray(gold)) & (np.asarray(own) == np.asarray(predicted))):
        if j not in by_sentence:  # no word left after truncation
            continue
        ranked = by_sentence[j].sort_values(["score_predicted", "field", "position"], ascending=[False, True, True])
        keys = list(zip(ranked["field"], ranked["position"]))
        for k in settings["deletion_k"]:
            if len(keys) <= k:
                continue
            top, chosen = set(keys[:k]), {keys[i] for i in rng.choice(len(keys), size=k, replace=False)}
            cases.append({
                "index": j, "k": k, "words": len(keys), "predicted": int(predicted[j]), "gold": int(gold[j]),
                "deleted_top": " | ".join(ranked["word"].iloc[:k]),
            })  # fmt: skip
            s = sentences[j]  # its variants in the order of VARIANTS
            rows += [s.inputs, s.without(top), s.without(chosen), s.only(top), s.only(chosen)]
    split = as_split(rows, np.zeros(len(rows), dtype=int))  # labels the split carries; prediction reads none
    with frozen(model), torch.inference_mode():
        probs = [torch.softmax(logits, -1).cpu().numpy()
                 for _, logits in logits_in_order(model, split, pad_token_id(model), PREDICT_BATCH, device)]  # fmt: skip
    classes = model.config.num_labels
    return deletion_measures(
        pd.DataFrame(cases, columns=CASE_COLUMNS), np.concatenate(probs or [np.zeros((0, classes))])
    )


def deletion_measures(cases: pd.DataFrame, probs: np.ndarray) -> pd.DataFrame:
    """The cases with their variants' probabilities (`probs`: one row per case and variant, in VARIANTS order) and
    what they measure. Comprehensiveness: p(predicted | x) - p(predicted | x without the words); sufficiency:
    p(predicted | x) - p(predicted | the words alone) (DeYoung et al. 2020: high comprehensiveness and low sufficiency
    say the words carried the prediction). Turned to gold / away: the class after deleting the words is gold / is not
    the predicted one."""
    table = cases.copy()
    rows = np.arange(len(table)) * len(VARIANTS)
    predicted = table["predicted"].to_numpy(dtype=int)
    for offset, variant in enumerate(VARIANTS):
        table[f"prob_{variant}"] = probs[rows + offset, predicted]
        if offset:
            table[f"class_{variant}"] = probs[rows + offset].argmax(1)
    for side in ("top", "random"):
        table[f"comprehensiveness_{side}"] = table["prob_whole"] - table[f"prob_without_{side}"]
        table[f"sufficiency_{side}"] = table["prob_whole"] - table[f"prob_only_{side}"]
        table[f"turned_to_gold_{side}"] = table[f"class_without_{side}"] == table["gold"]
        table[f"turned_away_{side}"] = table[f"class_without_{side}"] != table["predicted"]
    return table


def deletion_summary(deletions: pd.DataFrame, bootstrap: dict, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per k and measure (MEASURES): its mean with the top-k words and with k random words, with bootstrap
    intervals, and the interval of their paired difference. Seeds are averaged per sentence first, so the sentence
    is the unit resampled (as in `metrics.bootstrap_ci`)."""
    rows, ci = [], ci_settings(bootstrap)
    for key, group in deletions.groupby([*by, "k"], sort=True):
        for measure in MEASURES:
            columns = [f"{measure}_top", f"{measure}_random"]
            per_sentence = group.groupby("index")[columns].mean()
            top, random = (per_sentence[c].to_numpy(dtype=float) for c in columns)
            rows.append(
                dict(zip([*by, "k"], key if isinstance(key, tuple) else (key,)))
                | {"measure": measure, "sentences": len(per_sentence), "cases": len(group), "top": top.mean()}
                | dict(zip(["top_ci_low", "top_ci_high"], bootstrap_ci(top, **ci)))
                | {"random": random.mean()}
                | dict(zip(["random_ci_low", "random_ci_high"], bootstrap_ci(random, **ci)))
                | {"difference": (top - random).mean()}
                | dict(zip(["difference_ci_low", "difference_ci_high"], bootstrap_ci(top - random, **ci)))
            )
    return pd.DataFrame(rows, columns=[*by, *DELETION_SUMMARY_COLUMNS])


def attribute_group(
    checkpoints: dict[int, Path], texts: Sequence[str], pairs: Sequence[str] | None, gold: np.ndarray,
    predicted: np.ndarray, majority: np.ndarray, settings: dict, device="cpu", index: Sequence[int] | None = None,
    tokenization: Tokenization | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Word attributions, convergence and the deletion test of one run group: `checkpoints` maps each seed to its
    published model folder, `predicted` holds each seed's predictions (seeds x sentences, in that order),
    `majority` the seed majority's, which every seed is attributed toward. `tokenization`: the tokenize rule's, as
    training tokenized the texts (default: what that rule decides for the checkpoint, `Tokenization.of`). Returns
    (words, convergence, deletions), their rows labelled with `index` (default: text positions) and seed; words and
    deletions only of the (sentence, seed) pairs whose integral converged, convergence of every one."""
    settings = settings_with_defaults(settings)
    predicted, gold, majority = np.asarray(predicted), np.asarray(gold), np.asarray(majority)
    if not checkpoints:
        raise ValueError("no checkpoint to attribute")
    if predicted.shape != (len(checkpoints), len(texts)) or len(gold) != len(texts) or len(majority) != len(texts):
        raise ValueError(f"predicted must be seeds x sentences {(len(checkpoints), len(texts))}, not {predicted.shape}, "
                         f"gold and majority {len(texts)} long, not {len(gold)} and {len(majority)}")  # fmt: skip
    index = np.arange(len(texts)) if index is None else np.asarray(index)
    tables = {"words": [], "convergence": [], "deletions": []}
    for (seed, folder), seed_predicted in zip(checkpoints.items(), predicted):
        model, tokenizer = load_trained(folder)
        model.to(device)
        sentences = encode(tokenizer, texts, pairs, model, tokenization)
        words, convergence = attribute(model, sentences, majority, gold, settings, device)
        words = words[words["index"].isin(convergence.loc[convergence["passed"], "index"])]
        deletions = deletion_test(model, sentences, words, majority, seed_predicted, gold, settings, seed, device)
        for name, table in zip(tables, (words, convergence, deletions)):
            tables[name].append(table.assign(index=index[table["index"].to_numpy(dtype=int)], seed=seed))
    columns = {"words": WORD_COLUMNS, "convergence": CONVERGENCE_COLUMNS, "deletions": DELETION_COLUMNS}
    return tuple(pd.concat(tables[n], ignore_index=True)[columns[n]] for n in tables)


def convergence_summary(convergence: pd.DataFrame, settings: dict, errors: Sequence[int] = ()) -> dict:
    """What the report says about the integration: the steps used, the share of (sentence, seed) pairs that passed,
    and what was left out for not converging: `dropped` pairs (absent from the word tables and the deletion test),
    `sentences_dropped` sentences none of whose seeds converged (absent from the sentence table and the report's
    coloured errors) and `errors_dropped`, those of them among `errors` (the attributed errors' indices)."""
    settings = settings_with_defaults(settings)
    passed = convergence["passed"].astype(bool)
    unconverged = set(convergence["index"]) - set(convergence.loc[passed, "index"])
    return {
        "n_steps": settings["steps"],  # the output's own name for it (docs/outputs.md)
        "max_steps": settings["max_steps"],
        "tolerance": settings["tolerance"],
        "sentences": len(convergence),
        "passed_share": float(passed.mean()) if len(convergence) else float("nan"),
        "steps_used": {int(k): int(v) for k, v in convergence["steps"].value_counts().sort_index().items()},
        "dropped": int((~passed).sum()),
        "sentences_dropped": len(unconverged),
        "errors_dropped": len(unconverged & set(errors)),
    }

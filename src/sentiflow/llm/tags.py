"""Tag questions: yes/no questions (is this sentence sarcastic? ...) the LLM is asked about the errors and the
control set, read like labels, and the share of each group it says yes to.

`tag_prompt` turns an `llm.tags` question into a prompt; `tag_rates` the answers into rates with intervals.
"""

from __future__ import annotations

from sentiflow.analysis.metrics import bootstrap_ci, ci_settings, difference_ci
from sentiflow.llm.scorer import PromptConfig

# A tag question is answered yes or no; its probability of yes is read like a label's.
TAG_ANSWERS = ("yes", "no")


def tag_prompt(prompt: dict, question: dict) -> PromptConfig:
    """The entry's prompt asking a tag question instead of the label: its own instruction and yes/no words, no shots."""
    verbalizers = {answer: question["verbalizers"][answer] for answer in TAG_ANSWERS}
    return PromptConfig.from_settings(prompt, instruction=question["instruction"], verbalizers=verbalizers)


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

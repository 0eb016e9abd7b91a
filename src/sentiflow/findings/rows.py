"""A finding: one question the study answers, the sentence that answers it, its verdict and its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentiflow.findings.verdict import VERDICTS, Evidence

# The parts of a dataset's section a finding points to (the LaTeX report labels each subsection so).
PARTS = ("accuracy", "errors", "why", "calibration", "llm", "behaviour")
# The findings table's columns: the finding, then its headline evidence (the one or two pieces its sentence names:
# for a failure mode the association, then the intervention).
COLUMNS = ["dataset", "id", "topic", "question", "verdict", "reason", "evidence", "subject", "estimate", "ci_low",
           "ci_high", "threshold", "evidence_2", "subject_2", "estimate_2", "ci_low_2", "ci_high_2", "threshold_2",
           "section", "sentence"]  # fmt: skip


@dataclass
class Finding:
    id: str  # unique within the dataset: topic and subject, e.g. failure_mode/negation_contrast/minilm
    topic: str  # accuracy, backbones, variants, failure mode, LLM, cascade, label issues, calibration, ...
    question: str
    sentence: str  # the answer in words, generated from the numbers, ending with the verdict
    verdict: str
    section: str  # the HTML report's anchor of the table that shows it (without the dataset's prefix)
    part: str  # the subsection of the dataset's section that holds it (PARTS)
    headline: list[Evidence] = field(default_factory=list)  # the pieces the sentence names, at most two
    evidence: list[Evidence] = field(default_factory=list)  # every piece it rests on
    reason: str | None = None  # why it is not measured or not tested, or why its pieces leave it inconclusive

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"finding {self.id}: verdict {self.verdict!r} is none of {', '.join(VERDICTS)}")
        if self.part not in PARTS:
            raise ValueError(f"finding {self.id}: part {self.part!r} is none of {', '.join(PARTS)}")
        if not self.sentence.endswith(f": {self.verdict}."):  # the report shows the verdict apart from the answer
            raise ValueError(f"finding {self.id}: its sentence does not end with its verdict: {self.sentence!r}")

    def record(self, dataset: str) -> dict:
        """The finding as findings.json holds it: every piece with its state."""
        return {
            "dataset": dataset, "id": self.id, "topic": self.topic, "question": self.question,
            "sentence": self.sentence, "verdict": self.verdict, "reason": self.reason,
            "section": f"{dataset}-{self.section}", "part": self.part,
            "headline": [piece.record() for piece in self.headline],
            "evidence": [piece.record() for piece in self.evidence],
        }  # fmt: skip

    def row(self, dataset: str) -> dict:
        """The finding as findings.csv holds it: its headline pieces side by side."""
        row = {"dataset": dataset, "id": self.id, "topic": self.topic, "question": self.question,
               "verdict": self.verdict, "reason": self.reason, "section": f"{dataset}-{self.section}",
               "sentence": self.sentence}  # fmt: skip
        for number, piece in enumerate(self.headline[:2]):
            suffix = "" if number == 0 else "_2"
            row |= {f"evidence{suffix}": f"{piece.kind}: {piece.measure}", f"subject{suffix}": piece.model,
                    f"estimate{suffix}": piece.estimate, f"ci_low{suffix}": piece.ci_low,
                    f"ci_high{suffix}": piece.ci_high, f"threshold{suffix}": piece.threshold}  # fmt: skip
        return {column: row.get(column) for column in COLUMNS}


def unanswered(question: str, reason: str) -> str:
    """The sentence of a finding whose evidence is missing: the question, why it is not answered, the verdict."""
    return f"{question} — {reason}: not measured."

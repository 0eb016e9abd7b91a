"""The study's answers: one finding per question the study answers, each with the estimate its stage wrote, that
stage's interval, the evidence it rests on, a verdict from a stated rule (`verdict`) and the part of the report that
shows it. Nothing here computes an interval: every number is read from the statistics stages' outputs."""

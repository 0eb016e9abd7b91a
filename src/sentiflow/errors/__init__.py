"""Stage 4, the `misclassified` and `attribute` rules: which validation sentences fail, and why.

`misclassified` is the misclassified rule's job (error tables, cue families, failure modes, over-confidence);
`why` gathers the per-sentence findings it uses: `shortcuts` (lexical shortcuts of the training split),
`polarity` (mixed tone), `label_issues` (cleanlab); `words` is the word segmentation all of them count on.
`explain` is the attribute rule's job over `attribution` (Integrated Gradients and the deletion test); `slices`
the slices rule's (where errors concentrate, found by a cross-fitted decision tree over the sentences' features).
"""

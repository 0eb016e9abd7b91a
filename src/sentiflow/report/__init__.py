"""Stage 6, the `report` and `report_pdf` rules: the HTML and LaTeX report.

`inputs` types the files the rule names per dataset (`DatasetInputs`) and `settings` the settings it passes
(`ReportSettings`); `collect` reads them into the templates' context, a reader per part of a dataset's section,
with `why` for the "why errors happen" section, `slices` for the slices table and `tables` for the shared readers; `figures` names the figures
(the rule files use it too); `render` fills the Jinja templates the workflow keeps in the top-level `report/` (the rule passes their paths)
and compiles the PDF.
"""

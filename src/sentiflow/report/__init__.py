"""Stage 6, the `report` and `report_pdf` rules: the HTML and LaTeX report.

`inputs` types the files the rule names per dataset (`DatasetInputs`) and `settings` the settings it passes
(`ReportSettings`); `collect` reads them into the templates' context, a reader per part of a dataset's section, and
`sections` registers the optional parts, each a module with its files and reader: `why` ("why errors happen"),
`slices`, `llm` (the LLM entries and the cascade), `behaviour` (the behavioural tests); `tables` holds the shared
readers, `figures` names the figures and their paths (the rule files use it too); `render` fills the Jinja templates
the workflow keeps in the top-level `report/` (the rule passes their paths) and compiles the PDF.
"""

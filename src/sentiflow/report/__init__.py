"""Stage 6, the `report` and `report_pdf` rules: the HTML and LaTeX report.

`render` collects every stage's outputs and fills the Jinja templates in `templates/`; `why` the "why errors
happen" section's tables.
"""

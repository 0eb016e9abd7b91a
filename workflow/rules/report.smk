from sentiflow.report.sections import template_parts


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "report_helpers.smk"


# Render the whole study, a section per dataset, as one self-contained HTML page and a LaTeX document.
rule report:
    input:
        # Every file of params.files (what each file is, per dataset), listed for the DAG.
        files=report_inputs,
        # Shipped with the workflow, not the working directory; inputs, so editing them reruns this rule.
        html_template=workflow.source_path("../../report/report.html.j2"),
        tex_template=workflow.source_path("../../report/report.tex.j2"),
        # The sections and macros the two templates include (sentiflow.report.sections).
        parts=[
            workflow.source_path(f"../../report/{part}") for part in template_parts()
        ],
    output:
        html=report(
            "results/report/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
        datasets=report(
            "results/report/datasets.csv",
            caption="../report/datasets.rst",
            category="Tables",
        ),
        tex=f"{REPORT_LATEX}/report.tex",
        figures=report_latex_figures(),
    log:
        "logs/report.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        files=report_files_of,
        settings=report_settings(),
    script:
        "../../scripts/report.py"


# Compile the LaTeX report to PDF with pdflatex (TeX Live); the HTML report does not need it.
rule report_pdf:
    input:
        tex=rules.report.output.tex,
        figures=rules.report.output.figures,
    output:
        report(
            f"{REPORT_LATEX}/report.pdf",
            caption="../report/report_pdf.rst",
            category="Report",
        ),
    log:
        "logs/report_pdf.log",
    conda:
        "../envs/sentiflow.yaml"
    script:
        "../../scripts/report_pdf.py"

# Render the whole study, a section per dataset, as one self-contained HTML page and a LaTeX document.
rule report:
    input:
        unpack(report_inputs),
        # Shipped with the workflow, not the working directory; inputs, so editing them reruns this rule.
        html_template=workflow.source_path("../../src/sentiflow/report/templates/report.html.j2"),
        tex_template=workflow.source_path("../../src/sentiflow/report/templates/report.tex.j2"),
        # The sections and macros the two templates include.
        parts=[
            workflow.source_path(f"../../src/sentiflow/report/templates/{part}")
            for part in (
                "why.html.j2",
                "why.tex.j2",
                "macros.html.j2",
                "macros.tex.j2",
            )
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
        tex="results/report/latex/report.tex",
        figures=expand(
            "results/report/latex/figures/{dataset}/{name}.pdf",
            dataset=DATASETS,
            name=["training_loss", "validation_curves", "reliability", "confusion"],
        )
        + cascade_figures(),
    log:
        "logs/report.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        datasets=DATASETS,
        settings=canonical(
            {
                "report": config["report"],
                "training": config["training"],
                "analysis": config["analysis"],
                "variants": config["variants"],
                "variant_order": list(config["variants"]),
                "datasets": config["datasets"],
                "llm_enabled": config["llm"]["enabled"],
                "llm_models": {d: llm_entries(d) for d in DATASETS},
                "llm_cascade": config["llm"]["cascade"],
            }
        ),
    script:
        "../../scripts/report.py"


# Compile the LaTeX report to PDF with pdflatex (TeX Live); the HTML report does not need it.
rule report_pdf:
    input:
        tex=rules.report.output.tex,
        figures=rules.report.output.figures,
    output:
        report(
            "results/report/latex/report.pdf",
            caption="../report/report_pdf.rst",
            category="Report",
        ),
    log:
        "logs/report_pdf.log",
    conda:
        "../envs/sentiflow.yaml"
    script:
        "../../scripts/report_pdf.py"

# The train stage's helpers (workflow/rules/train.smk includes them): a backbone's model.


def backbone_model(wildcards):
    """Params function: the wildcard's backbone's model, a hub id or a local folder."""
    return config["backbones"][wildcards.backbone]["model"]

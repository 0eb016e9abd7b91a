"""Halve a model folder's weights for transport (fp32 -> fp16) and restore them on arrival (fp16 -> fp32).

    python perf/weights.py shrink SRC_DIR DST_DIR    # before: 87 MB of MiniLM become 44 MB
    python perf/weights.py expand SRC_DIR DST_DIR    # on the GPU machine, before fine-tuning

Training always starts from fp32 weights; the fp16 round trip changes each weight by at most 2^-11 relative.
"""

import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def convert(src: Path, dst: Path, dtype: torch.dtype) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name != "model.safetensors" and item.is_file():
            shutil.copy2(item, dst / item.name)
    weights = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in load_file(src / "model.safetensors").items()}
    save_file(weights, dst / "model.safetensors", metadata={"format": "pt"})


if __name__ == "__main__":
    mode, src, dst = sys.argv[1:4]
    convert(Path(src), Path(dst), {"shrink": torch.float16, "expand": torch.float32}[mode])

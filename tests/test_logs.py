import os
import subprocess
import sys

import pytest

from sentiflow.logs import log_to


def test_log_to_captures_python_and_c_level_output_and_appends(tmp_path):
    # In a fresh process, as Snakemake runs a script: sys.stdout is file descriptor 1 there.
    log = tmp_path / "logs" / "rule.log"
    for attempt in (1, 2):
        code = (
            "import os\nfrom sentiflow.logs import log_to\n"
            f"with log_to({str(log)!r}):\n"
            f"    print('python line {attempt}')\n"
            f"    os.system('echo shell line {attempt} >&2')\n"  # a child process writing to descriptor 2
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert result.stdout == result.stderr == ""
    text = log.read_text()
    assert text.count("=== ") == 2 and "shell line 2" in text
    assert text.index("python line 1") < text.index("python line 2") and text.index("shell line 1") < text.index(
        "shell line 2"
    )


def test_a_failure_reaches_the_log_and_the_terminal(tmp_path):
    code = (
        "from sentiflow.logs import log_to\n"
        f"with log_to({str(tmp_path / 'r.log')!r}):\n"
        "    raise ValueError('bad.tsv: line 3: empty text')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "bad.tsv: line 3: empty text" in result.stderr
    assert "bad.tsv: line 3: empty text" in (tmp_path / "r.log").read_text()


def test_nothing_is_redirected_after_the_block(tmp_path, capfd):
    with pytest.raises(RuntimeError), log_to(tmp_path / "x.log"):
        raise RuntimeError("boom")
    os.write(1, b"after\n")
    assert "after" in capfd.readouterr().out

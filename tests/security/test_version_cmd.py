"""``seg version --database URL`` (issue 17): the URL's password is never printed, in the
document or in an error, and a database is only read — no SQLite file is created."""

from __future__ import annotations

import subprocess
import sys

SECRET = "s3cr3t-pw"


def test_a_database_password_never_appears(tmp_path) -> None:
    url = f"postgresql://seg:{SECRET}@127.0.0.1:9/seg?password={SECRET}"  # nothing listens on 9
    for output in ("text", "json"):
        done = subprocess.run([sys.executable, "-m", "seg", "version", "-o", output, "--database", url],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert SECRET not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


def test_a_hostile_url_is_one_error_line(tmp_path) -> None:
    for url in ("not a url", "sqlite:///../../etc/passwd-nope", f"mysql+nodriver://u:{SECRET}@h/db"):
        done = subprocess.run([sys.executable, "-m", "seg", "version", "--database", url],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 1 and done.stderr.startswith("error: "), done.stderr
        assert done.stderr.count("\n") == 1 and SECRET not in done.stderr
    assert list(tmp_path.iterdir()) == []

"""The progress bar: drawn on a terminal while a file is read, never in a pipe or a log."""
from __future__ import annotations

from tests.importing.commands import run_import
from tests.importing.disqus_files import export, post, thread


def test_a_terminal_sees_the_bar_and_a_pipe_only_the_summary(app, database_url, write_file, tmp_path):
    path = write_file("progress.xml", export(thread("1", "https://e.org/a/"),
                                             *[post(str(n), "1", f"Comment {n}") for n in range(50)]))
    status, stdout, drawn = run_import(path, database_url, tmp_path, terminal=True)
    assert status == 0
    assert "importing progress.xml" in drawn and "100%" in drawn
    assert stdout.strip() == "imported 1 new article(s), 50 comment(s) (0 orphan(s) made top-level); skipped 0"

    status, stdout, stderr = run_import(path, database_url, tmp_path, terminal=False)
    assert status == 0 and stderr == ""
    assert stdout.strip().endswith("skipped 50 (50 already imported)")

"""How an attempt ended, in the one pair of words every record and report uses: a backup attempt
in the attempts file (backup/attempts.py, judged by freshness.py for `status`), one server of
`fleet snapshot` (fleet_plan.py), and the apt run after a backup (`nsh_outcome`,
apt/post_invoke.py). A capture's own states (captured, pending, failed) are capture.py's."""

SUCCEEDED, FAILED = "succeeded", "failed"

"""Pure rules, no I/O: image names and properties (naming), when a disk is captured (capture),
which of our images rotation and prune delete (rotation, retention), the tiers and which one a
day takes (schedule), how fresh a series' backups are for `status` and `fleet status`
(freshness), when the application credential runs out (expiry), how an attempt ended (outcome),
what an image is (inventory), what a restore sends (restore_plan), which servers a fleet run
takes (fleet_plan). What the commands print of their results is in views.py. The time, the host
and the cloud's answers are handed in by the callers (tests/unit/test_rules_pure.py)."""

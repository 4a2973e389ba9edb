"""Pure rules, no I/O: image names and properties (naming), when a disk is captured (capture),
which of our images rotation and prune delete (rotation, retention), which tier a day takes
(schedule), how fresh backups are (freshness), what an image is (inventory), what a restore
sends (restore_plan), which servers a fleet run takes (fleet_plan)."""

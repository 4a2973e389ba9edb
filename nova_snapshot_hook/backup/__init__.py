"""Taking one backup: request it, wait for the capture, rotate what is ours (snapshotter); the
whole run around it (take); what each attempt came to, for `status` (attempts)."""

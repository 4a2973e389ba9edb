"""apt's side: apt's stream (stream) -> the change set (changes) -> whether apt gets a backup
(policy) -> the hook that apt runs (hook); after dpkg, the outcome on the image (post_invoke);
the files they keep between runs (state)."""

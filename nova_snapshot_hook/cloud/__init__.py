"""The cloud edge: who we are (credentials), which server we are (identity), one session built
once (session), the Nova, Glance and Cinder calls (client), retries (retry), the token cache."""

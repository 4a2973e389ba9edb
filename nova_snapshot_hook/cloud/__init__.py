"""The cloud edge: who we are (credentials), which server we are (identity), one session built
once (session), the Nova, Glance and Cinder calls (client), retries (retry), the token cache.

The API versions the calls speak are in api_versions.py: text.py's dry-run printer reads them
too, and it sits below the cloud edge (doc/modules.md, Layers)."""

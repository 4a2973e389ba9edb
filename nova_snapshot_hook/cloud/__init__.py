"""The cloud edge: who we are (credentials), which server we are (identity), one session built
once (session), the Nova, Glance and Cinder calls (client), retries (retry), the token cache.

Light on purpose: the API versions below are read by text.py's dry-run printer too."""

MICROVERSION = "2.45"   # from 2.45 createBackup/createImage answer with the image id in the body
IMAGE_PATCH = "application/openstack-images-v2.1-json-patch"

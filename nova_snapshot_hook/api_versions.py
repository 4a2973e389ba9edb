"""The OpenStack API versions the requests speak, read by the calls (cloud/client.py) and by the
dry-run printer (text.py's Call) alike: what a dry run shows is what a real run sends. Constants
only, nothing imported (log.py imports text.py, which imports this)."""

MICROVERSION = "2.45"   # from 2.45 createBackup/createImage answer with the image id in the body
IMAGE_PATCH = "application/openstack-images-v2.1-json-patch"

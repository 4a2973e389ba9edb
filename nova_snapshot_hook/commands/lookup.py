"""Finding this server and its images, for list, show, restore and status; the credential's
expiry, for check and status."""

from .. import views
from ..errors import CloudError, ConfigError, IdentityError
from ..log import log
from ..rules import expiry, inventory, volumes
from ..rules.naming import SERVER_PROPERTY


def server_or_none(ctx):
    """GET /servers/{id} as a dict; None, with a warning, when the server no longer exists (its
    backups outlive it: list them from a server restored with `restore --new`)."""
    try:
        return ctx.cloud.get_server(ctx.server_id)
    except IdentityError as err:
        log.warning(f"{err.message}; showing its images anyway")
        return None


def warn_about_volumes(server):
    warning = views.volume_warning(server) if server else None
    if warning:
        log.warning(warning)


def server_images(ctx):
    return images_of(ctx.cloud, ctx.server_id)


def images_of(cloud, server_id):
    """Every image of the server: those Glance lists for instance_uuid=<server> (Nova sets it on
    an image-backed server's backups and snapshots, ours or not), and ours by nsh_server (Nova
    sets no instance_uuid on a volume-backed server's createImage)."""
    found = {}
    for filters in ({"instance_uuid": server_id}, {SERVER_PROPERTY: server_id}):
        for image in cloud.list_images(**filters):
            found.setdefault(image.get("id"), image)
    return list(found.values())


def volume_snapshots(ctx, images):
    """Cinder's snapshots by id when any of the images names one ({} when none does); None, with
    a warning, when Cinder cannot be read (the images are still shown)."""
    if not any(volumes.snapshot_ids(image) for image in images):
        return {}
    try:
        return {snapshot.get("id"): snapshot for snapshot in ctx.cloud.volume_snapshots()}
    except CloudError as err:
        log.warning(f"cannot show the volume snapshots' states: {err}")
        return None


def find_image(ctx, text):
    """One image by id or exact name (refused when ambiguous); see inventory.pick_by_name."""
    cloud = ctx.cloud
    if inventory.looks_like_id(text):
        image = cloud.get_image(text.lower())
        if image is not None:
            return image
    images = cloud.list_images(name=text)
    if not images and inventory.looks_like_id(text):
        raise ConfigError(f"no image {text} in this project",
                          fix="'nova-snapshot-hook list' shows this server's images")
    return inventory.pick_by_name(images, text, ctx.server_id)


def credential_expiry(cloud, now):
    """(Keystone's record of the application credential in use, its expiry.Expiry), or None for
    a password, which has no expiry to read. One GET, for `check` and `status` only."""
    record = cloud.application_credential()
    if record is None:
        return None
    try:
        expires = expiry.parse(record.get("expires_at"))
    except ValueError as err:
        raise CloudError(f"application credential {record.get('id')}: Keystone's expires_at is "
                         f"{err}", fix="ask the cloud's operators") from None
    return record, expiry.judge(expires, now)

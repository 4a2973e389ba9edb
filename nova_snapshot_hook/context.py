"""The edge the inventory commands share (list, show, restore, prune, status): settings, logging,
credentials, this server's id, one Cloud; and finding one image by id or exact name.

Every command builds its session here once and passes the Cloud down (keystoneauth's lesson in
../shared/docs/style.md). The token is registered with the redactor, so no output can carry it.
"""

from .rules import inventory
from .errors import IdentityError
from .log import log, redactor


class Connection:
    __slots__ = ("settings", "credentials", "cloud", "server_id", "source")

    def __init__(self, settings, credentials, cloud, server_id, source):
        self.settings, self.credentials, self.cloud = settings, credentials, cloud
        self.server_id, self.source = server_id, source


def say(text):
    """Print one line of a command's output, with every known secret masked on the way out."""
    print(redactor.mask(text), flush=True)


def load(args, use_syslog=False):
    """The settings, with logging set up for this command (syslog only for commands that write)."""
    from .config import load_settings
    from .log import setup
    settings = load_settings(args.config)
    setup(args.verbose, args.quiet, settings.syslog and use_syslog, getattr(args, "json", False))
    return settings


def connect(args, settings):
    from .backup.take import load_credentials, resolve_server
    from .cloud.client import Cloud
    credentials = load_credentials(settings, args.credentials, args.use_environment)
    server_id, source = resolve_server(settings, getattr(args, "server", None))
    cloud = Cloud(credentials, settings)
    with cloud.translated("authenticating"):
        redactor.add(cloud.session.get_token())
    return Connection(settings, credentials, cloud, server_id, source)


def server_or_none(connection):
    """GET /servers/{id} as a dict; None, with a warning, when the server no longer exists (its
    backups outlive it: list them from a server restored with `restore --new`)."""
    try:
        return connection.cloud.get_server(connection.server_id).to_dict()
    except IdentityError as err:
        log.warning(f"{err.message}; showing its images anyway")
        return None


def warn_about_volumes(server):
    warning = inventory.volume_warning(server) if server else None
    if warning:
        log.warning(warning)


def server_images(connection):
    """Every image Glance lists for instance_uuid=<this server>: ours, Nova's backups, snapshots
    (Nova sets instance_uuid on every createBackup and createImage image)."""
    return connection.cloud.list_images(instance_uuid=connection.server_id)


def find_image(connection, text):
    """One image by id or exact name (refused when ambiguous); see inventory.pick_by_name."""
    from .errors import ConfigError
    cloud = connection.cloud
    if inventory.looks_like_id(text):
        image = cloud.get_image(text.lower())
        if image is not None:
            return image
    images = cloud.list_images(name=text)
    if not images and inventory.looks_like_id(text):
        raise ConfigError(f"no image {text} in this project",
                          fix="'nova-snapshot-hook list' shows this server's images")
    return inventory.pick_by_name(images, text, connection.server_id)

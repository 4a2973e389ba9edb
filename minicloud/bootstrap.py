#!/usr/bin/python3
"""Fill the minicloud with what the project's tests expect; idempotent.

    bootstrap.py identity   once Keystone answers: catalog, projects, users,
                            roles, the application credential, the openrc
                            files and clouds.yaml
    bootstrap.py compute    once Nova runs: waits for nova-compute and
                            cinder-volume, maps the host to the cell, flavor,
                            image, the demo project's volume quotas, the four
                            servers, the data volume and their id files

Called by minicloud/up with MINICLOUD_STATE set (and, for "compute",
MINICLOUD_COMPUTE_PIDFILE: servers booted under another nova-compute process
are unknown to the fake driver and are re-created).
Uses only Debian's python3-keystoneauth1/-keystoneclient/-novaclient/-glanceclient/
-cinderclient.
"""

import argparse
import io
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone

import glanceclient
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exc
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc

AUTH_URL = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"
# (service name, type, endpoint URL); identity comes from keystone-manage bootstrap.
CATALOG = [
    ("glance", "image", "http://127.0.0.1:9292"),
    ("placement", "placement", "http://127.0.0.1:8778"),
    ("nova", "compute", "http://127.0.0.1:8774/v2.1"),
    ("neutron", "network", "http://127.0.0.1:9696"),
    # Zed's Cinder routes URLs with and without the project id
    ("cinderv3", "block-storage", "http://127.0.0.1:8776/v3"),
]
SERVICE_USERS = ("nova", "glance", "placement", "cinder")
APPCRED_NAME = "nova-snapshot-hook"
FLAVOR = dict(name="minicloud.tiny", ram=64, vcpus=1, disk=1)
IMAGE_NAME = "minicloud-tiny"
IMAGE_SIZE = 8192
# id file -> (server name, owning user)
SERVERS = {
    "server_id": ("minicloud-vm", "demo"),
    # the second test worker's own image-backed server (pytest -n 2: tests/integration/
    # cloud_fixtures.py gives each worker one, as "server")
    "worker_server_id": ("minicloud-worker", "demo"),
    "server2_id": ("minicloud-vm2", "demo"),
    "other_server_id": ("other-vm", "other"),
    "bfv_server_id": ("minicloud-bfv", "demo"),
}
# minicloud-bfv boots from this volume (made from the image, deleted with
# the server); minicloud-vm2 gets the data volume attached.
BFV_SERVER = "minicloud-bfv"
BFV_VOLUME = "minicloud-bfv-root"
DATA_VOLUME = "minicloud-data"
DATA_SERVER_ID_FILE = "server2_id"
VOLUME_QUOTA_KEYS = ("volumes", "snapshots", "gigabytes", "backups",
                     "backup_gigabytes", "per_volume_gigabytes", "groups")
BOOT_MICROVERSION = "2.37"  # first with networks='none'
VOLUME_MICROVERSION = "3.60"
GEN_FILE = "servers.compute-pid"


T0 = time.time()


def log(msg):
    print("bootstrap: [%5.1fs] %s" % (time.time() - T0, msg), flush=True)


class Bootstrap:
    def __init__(self, state):
        self.state = state
        self.secrets = self._read_secrets()
        self._sessions = {}

    # ---- files -------------------------------------------------------------

    def _read_secrets(self):
        secrets = {}
        with open(os.path.join(self.state, "secrets")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    secrets[key] = value
        return secrets

    def path(self, *parts):
        return os.path.join(self.state, *parts)

    def write_file(self, name, text, mode=0o600):
        """Atomic write, so a test never reads half a file."""
        path = self.path(name)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)

    def read_file(self, name):
        try:
            with open(self.path(name)) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None

    # ---- sessions ----------------------------------------------------------

    def password(self, user):
        return self.secrets["%s_PASSWORD" % user.upper()]

    def session(self, user, project=None):
        """A password session of user on project (default: the user's own)."""
        project = project or {"admin": "admin", "demo": "demo",
                              "other": "other"}.get(user, "service")
        key = (user, project)
        if key not in self._sessions:
            auth = v3.Password(auth_url=AUTH_URL, username=user,
                               password=self.password(user),
                               user_domain_id="default",
                               project_name=project,
                               project_domain_id="default")
            self._sessions[key] = ks_session.Session(auth=auth)
        return self._sessions[key]

    def keystone(self, user="admin"):
        return ks_client.Client(session=self.session(user),
                                region_name=REGION, interface="public")

    def nova(self, user="admin", microversion=BOOT_MICROVERSION):
        return nova_client.Client(microversion, session=self.session(user),
                                  region_name=REGION, endpoint_type="public")

    def glance(self, user="admin"):
        return glanceclient.Client("2", session=self.session(user),
                                   region_name=REGION, interface="public")

    def cinder(self, user="admin"):
        return cinder_client.Client(VOLUME_MICROVERSION, session=self.session(user),
                                    region_name=REGION, interface="public",
                                    service_type="block-storage")

    # ---- identity phase ----------------------------------------------------

    def wait_keystone(self, timeout=60):
        """Keystone's port may be open before its worker has loaded the app."""
        deadline = time.time() + timeout
        while True:
            try:
                self.session("admin").get_token()
                return
            except (ks_exc.ConnectFailure, ks_exc.ServiceUnavailable,
                    ks_exc.BadGateway, ks_exc.ConnectionError):
                if time.time() > deadline:
                    raise
                time.sleep(0.3)

    def identity(self):
        self.wait_keystone()
        ks = self.keystone()
        self.ensure_catalog(ks)
        roles = {r.name: r for r in ks.roles.list()}
        # Cinder lets only a service token (role "service") delete an in-use
        # attachment (bug 2004555): Nova sends one as user nova.
        if "service" not in roles:
            roles["service"] = ks.roles.create(name="service")
        service = self.ensure_project(ks, "service", "minicloud service users")
        for name in SERVICE_USERS:
            user = self.ensure_user(ks, name, service)
            ks.roles.grant(roles["admin"], user=user, project=service)
            ks.roles.grant(roles["service"], user=user, project=service)
        for name in ("demo", "other"):
            project = self.ensure_project(ks, name, "minicloud %s project" % name)
            user = self.ensure_user(ks, name, project)
            ks.roles.grant(roles["member"], user=user, project=project)
        self.write_openrc_files()
        appcred = self.ensure_appcred()
        self.write_appcred_files(appcred)
        self.write_clouds_yaml(appcred)

    def ensure_catalog(self, ks):
        services = {s.type: s for s in ks.services.list()}
        endpoints = ks.endpoints.list()
        for name, stype, url in CATALOG:
            service = services.get(stype) or ks.services.create(name=name, type=stype)
            have = {e.interface: e for e in endpoints if e.service_id == service.id}
            for interface in ("public", "internal", "admin"):
                endpoint = have.get(interface)
                if endpoint is None:
                    ks.endpoints.create(service=service, url=url,
                                        interface=interface, region=REGION)
                elif endpoint.url != url:
                    ks.endpoints.update(endpoint, url=url)

    @staticmethod
    def ensure_project(ks, name, description):
        found = ks.projects.list(name=name, domain="default")
        if found:
            return found[0]
        log("creating project %s" % name)
        return ks.projects.create(name=name, domain="default",
                                  description=description)

    def ensure_user(self, ks, name, project):
        """Create the user, or reset its password only if it no longer works.

        Setting a password revokes the user's tokens, which would disturb
        tests running against an already-up cloud; so never do it needlessly.
        """
        found = ks.users.list(name=name, domain="default")
        if not found:
            log("creating user %s" % name)
            return ks.users.create(name=name, domain="default",
                                   password=self.password(name),
                                   default_project=project)
        user = found[0]
        probe = v3.Password(auth_url=AUTH_URL, username=name,
                            password=self.password(name),
                            user_domain_id="default", unscoped=True)
        try:
            ks_session.Session(auth=probe).get_token()
        except ks_exc.Unauthorized:
            log("resetting the password of user %s" % name)
            ks.users.update(user, password=self.password(name), enabled=True)
        return user

    def ensure_appcred(self):
        """The demo user's application credential, (re)created if the stored
        one no longer authenticates (the secret is only shown at creation)."""
        stored = self._read_env_file("appcred-openrc")
        cred_id = stored.get("OS_APPLICATION_CREDENTIAL_ID")
        secret = stored.get("OS_APPLICATION_CREDENTIAL_SECRET")
        if cred_id and secret:
            auth = v3.ApplicationCredential(auth_url=AUTH_URL,
                                            application_credential_id=cred_id,
                                            application_credential_secret=secret)
            try:
                ks_session.Session(auth=auth).get_token()
                return {"id": cred_id, "secret": secret}
            except ks_exc.Unauthorized:
                log("stored application credential no longer works")
        demo = self.keystone("demo")
        user_id = self.session("demo").get_user_id()
        for old in demo.application_credentials.list(user=user_id):
            if old.name == APPCRED_NAME:
                demo.application_credentials.delete(old, user=user_id)
        member = self.keystone().roles.list(name="member")[0]
        cred = demo.application_credentials.create(
            name=APPCRED_NAME, user=user_id, roles=[{"id": member.id}],
            description="nova-snapshot-hook tests (minicloud); role member")
        log("created application credential %s" % cred.id)
        return {"id": cred.id, "secret": cred.secret}

    def _read_env_file(self, name):
        values = {}
        text = self.read_file(name) or ""
        for line in text.splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export "):].partition("=")
                parsed = shlex.split(value)
                values[key] = parsed[0] if parsed else ""
        return values

    @staticmethod
    def _exports(pairs):
        return "".join("export %s=%s\n" % (k, shlex.quote(v)) for k, v in pairs)

    def _password_openrc(self, user, project):
        return self._exports([
            ("OS_AUTH_URL", AUTH_URL),
            ("OS_USERNAME", user),
            ("OS_PASSWORD", self.password(user)),
            ("OS_PROJECT_NAME", project),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
            ("OS_REGION_NAME", REGION),
            ("OS_INTERFACE", "public"),
            ("OS_IDENTITY_API_VERSION", "3"),
        ])

    def write_openrc_files(self):
        header = "# minicloud: %s, password auth (Horizon-style RC file)\n"
        self.write_file("openrc", header % "user demo, project demo"
                        + "unset OS_AUTH_TYPE OS_APPLICATION_CREDENTIAL_ID "
                          "OS_APPLICATION_CREDENTIAL_SECRET\n"
                        + self._password_openrc("demo", "demo"))
        self.write_file("other-openrc", header % "user other, project other"
                        + self._password_openrc("other", "other"))
        self.write_file("admin-openrc", header % "user admin, project admin"
                        + self._password_openrc("admin", "admin"))

    def write_appcred_files(self, appcred):
        self.write_file(
            "appcred-openrc",
            "# minicloud: application credential %s of user demo (role member)\n"
            "unset OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_PROJECT_ID "
            "OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME\n" % APPCRED_NAME
            + self._exports([
                ("OS_AUTH_TYPE", "v3applicationcredential"),
                ("OS_AUTH_URL", AUTH_URL),
                ("OS_APPLICATION_CREDENTIAL_ID", appcred["id"]),
                ("OS_APPLICATION_CREDENTIAL_SECRET", appcred["secret"]),
                ("OS_REGION_NAME", REGION),
                ("OS_INTERFACE", "public"),
                ("OS_IDENTITY_API_VERSION", "3"),
            ]))

    def write_clouds_yaml(self, appcred):
        def password_cloud(user, project):
            return {"auth_type": "password",
                    "auth": {"auth_url": AUTH_URL, "username": user,
                             "password": self.password(user),
                             "project_name": project,
                             "user_domain_name": "Default",
                             "project_domain_name": "Default"}}
        clouds = {
            "minicloud": password_cloud("demo", "demo"),
            "minicloud-appcred": {
                "auth_type": "v3applicationcredential",
                "auth": {"auth_url": AUTH_URL,
                         "application_credential_id": appcred["id"],
                         "application_credential_secret": appcred["secret"]}},
            "minicloud-other": password_cloud("other", "other"),
            "minicloud-admin": password_cloud("admin", "admin"),
        }
        lines = ["# minicloud: written by minicloud/bootstrap.py", "clouds:"]
        for name, cloud in clouds.items():
            lines.append("  %s:" % name)
            lines.append("    auth_type: %s" % cloud["auth_type"])
            lines.append("    auth:")
            for key, value in cloud["auth"].items():
                # JSON strings are valid YAML double-quoted scalars
                lines.append("      %s: %s" % (key, json.dumps(value)))
            lines.append("    region_name: %s" % REGION)
            lines.append("    interface: public")
            lines.append("    identity_api_version: 3")
        self.write_file("clouds.yaml", "\n".join(lines) + "\n")

    # ---- compute phase -----------------------------------------------------

    def compute(self, compute_pidfile):
        self.wait_keystone()
        compute_gen = self.read_file(compute_pidfile) if compute_pidfile else None
        # Flavor, image and the cell mapping first: they overlap with the ~5 s
        # a fresh nova-compute takes to send its first report.
        flavor = self.ensure_flavor()
        image = self.ensure_image()
        self.map_compute_host()
        # Deleting or booting servers needs this nova-compute consuming its
        # queue: a cast to a queue that does not exist yet is lost.
        self.wait_compute_ready(compute_gen)
        self.wait_cinder_ready()
        log("cinder's scheduler knows the pool")
        self.ensure_volume_quotas("demo")
        self.drop_bfv_without_root()
        self.ensure_servers(flavor, image, compute_gen)
        self.ensure_data_volume()
        log("servers and volumes ready")
        self.write_file("image_id", image["id"] + "\n", 0o644)

    @staticmethod
    def _process_start_epoch(gen):
        """Wall-clock start of the process named by a pid file's content."""
        pid, start_ticks = gen.split()
        with open("/proc/stat") as f:
            btime = next(int(l.split()[1]) for l in f if l.startswith("btime"))
        return btime + int(start_ticks) / os.sysconf("SC_CLK_TCK")

    def wait_compute_ready(self, compute_gen, timeout=120):
        """Wait until *this* nova-compute process has reported in.

        A service record counts as 'up' for 60 s after the last report of a
        previous nova-compute, and a fresh one reports only about 5 s after
        it started: boot before that and the scheduler says "No valid host".
        """
        since = self._process_start_epoch(compute_gen) - 1 if compute_gen else 0
        nova = self.nova()
        deadline = time.time() + timeout
        while True:
            services = [s for s in nova.services.list(binary="nova-compute")
                        if s.host == "minicloud"]
            for s in services:
                seen = s.updated_at and datetime.fromisoformat(
                    s.updated_at.rstrip("Z")).replace(tzinfo=timezone.utc).timestamp()
                if s.state == "up" and s.status == "enabled" and seen and seen >= since:
                    return
            if time.time() > deadline:
                raise SystemExit("bootstrap: nova-compute did not report in "
                                 "within %ds (see log/nova-compute.log)" % timeout)
            time.sleep(0.5)

    def wait_cinder_ready(self, timeout=120):
        """The scheduler lists our pool once cinder-volume has sent it its
        capabilities; before that a create ends "No valid backend"."""
        cinder = self.cinder()
        deadline = time.time() + timeout
        while True:
            try:
                if cinder.pools.list():
                    return
            except (cinder_exc.ClientException, ks_exc.ConnectFailure):
                pass
            if time.time() > deadline:
                raise SystemExit("bootstrap: cinder's scheduler knows no pool after "
                                 "%ds (see log/cinder-volume.log)" % timeout)
            time.sleep(0.5)

    def ensure_volume_quotas(self, project_name):
        """The project's volume quotas at Cinder's defaults (tests may count
        on 10 snapshots)."""
        cinder = self.cinder()
        project = self.keystone().projects.list(name=project_name, domain="default")[0]
        defaults = cinder.quotas.defaults(project.id)
        current = cinder.quotas.get(project.id)
        changes = {k: getattr(defaults, k) for k in VOLUME_QUOTA_KEYS
                   if getattr(current, k, None) != getattr(defaults, k)}
        if changes:
            log("volume quotas of %s back to the defaults: %s" % (project_name, changes))
            cinder.quotas.update(project.id, **changes)

    def _wait_volume(self, cinder, volume_id, want, timeout=60):
        deadline = time.time() + timeout
        while True:
            volume = cinder.volumes.get(volume_id)
            if volume.status == want:
                return volume
            if volume.status.startswith("error") or time.time() > deadline:
                raise SystemExit("bootstrap: volume %s is %s, not %s"
                                 % (volume_id, volume.status, want))
            time.sleep(0.3)

    def _delete_stale_volumes(self, cinder, name, keep=None):
        """Delete the unattached volumes of that name we made before, except
        those with snapshots: a volume-backed image still needs them (an old
        minicloud-bfv's createImage), and so Cinder refuses anyway."""
        snapshots = {s.volume_id for s in cinder.volume_snapshots.list()}
        for volume in cinder.volumes.list():
            if volume.name != name or volume.id == keep or volume.status not in (
                    "available", "error", "error_extending"):
                continue
            if volume.id in snapshots:
                log("keeping stale volume %s %s: it has snapshots" % (name, volume.id))
                continue
            log("deleting stale volume %s %s (%s)" % (name, volume.id, volume.status))
            cinder.volumes.delete(volume.id)

    def drop_bfv_without_root(self):
        """minicloud-bfv whose root volume is no longer in-use is re-created.

        A rebuild at 2.93 with a volume-backed (0-byte) image leaves the
        server ACTIVE but its root volume `reserved` and unattached: Nova
        waits 0 s for Cinder's reimage (reimage_timeout_per_gb x 0 GB)."""
        volume_id = self.read_file("bfv_volume_id")
        server_id = self.read_file("bfv_server_id")
        if not volume_id or not server_id:
            return
        try:
            status = self.cinder().volumes.get(volume_id).status
        except cinder_exc.NotFound:
            status = "gone"
        if status != "in-use":
            log("root volume of %s is %s: re-creating the server" % (BFV_SERVER, status))
            self._delete_by_name(self.nova(), BFV_SERVER)

    def ensure_data_volume(self):
        """minicloud-data attached to minicloud-vm2; re-attached (same
        volume) when the server was re-created."""
        server_id = self.read_file(DATA_SERVER_ID_FILE)
        cinder = self.cinder("demo")
        mine = [v for v in cinder.volumes.list()
                if v.name == DATA_VOLUME]
        attached = [v for v in mine if any(a.get("server_id") == server_id
                                           for a in v.attachments)]
        keep = (attached or [v for v in mine if v.status == "available"] or [None])[0]
        self._delete_stale_volumes(cinder, DATA_VOLUME, keep=keep and keep.id)
        if keep is None:
            keep = cinder.volumes.create(size=1, name=DATA_VOLUME,
                                         description="minicloud: data volume of minicloud-vm2")
            log("created volume %s %s" % (DATA_VOLUME, keep.id))
            self._wait_volume(cinder, keep.id, "available")
        if not attached:
            log("attaching %s to minicloud-vm2" % DATA_VOLUME)
            self.nova("demo").volumes.create_server_volume(server_id, keep.id)
            self._wait_volume(cinder, keep.id, "in-use")
        self.write_file("data_volume_id", keep.id + "\n", 0o644)

    def map_compute_host(self):
        """Map the compute host into cell1 once; the mapping outlives restarts."""
        marker = self.path("done", "compute-host-mapped")
        if os.path.exists(marker):
            return
        # --by-service needs the service record, made as nova-compute starts
        nova = self.nova()
        deadline = time.time() + 120
        while not nova.services.list(host="minicloud", binary="nova-compute"):
            if time.time() > deadline:
                raise SystemExit("bootstrap: nova-compute never registered "
                                 "(see log/nova-compute.log)")
            time.sleep(0.5)
        log("mapping compute host into cell1")
        subprocess.run([self.path("bin", "nova-manage"), "--config-file",
                        self.path("etc", "nova", "nova.conf"),
                        "cell_v2", "discover_hosts", "--by-service", "--verbose"],
                       check=True)
        open(marker, "w").close()

    def ensure_flavor(self):
        nova = self.nova()
        for flavor in nova.flavors.list(is_public=None):
            if flavor.name == FLAVOR["name"]:
                return flavor
        log("creating flavor %s" % FLAVOR["name"])
        return nova.flavors.create(FLAVOR["name"], ram=FLAVOR["ram"],
                                   vcpus=FLAVOR["vcpus"], disk=FLAVOR["disk"],
                                   flavorid="auto", is_public=True)

    def ensure_image(self):
        glance = self.glance()
        for image in glance.images.list(filters={"name": IMAGE_NAME}):
            if image["status"] == "active":
                return image
            glance.images.delete(image["id"])
        log("creating image %s" % IMAGE_NAME)
        image = glance.images.create(name=IMAGE_NAME, disk_format="raw",
                                     container_format="bare",
                                     visibility="public")
        data = b"minicloud tiny raw disk\n".ljust(IMAGE_SIZE, b"\0")
        glance.images.upload(image["id"], io.BytesIO(data), image_size=len(data))
        return glance.images.get(image["id"])

    def ensure_servers(self, flavor, image, compute_gen):
        """Keep each server if the running nova-compute booted it and it is
        ACTIVE; otherwise delete whatever carries its name and boot anew."""
        booted_under = self.read_file(GEN_FILE)
        same_compute = compute_gen is not None and booted_under == compute_gen
        admin = self.nova()
        wanted = {}
        for id_file, (name, user) in SERVERS.items():
            current = self._server_by_id(admin, self.read_file(id_file))
            if same_compute and current is not None and current.name == name:
                if current.status == "ACTIVE":
                    continue
                if current.status == "SHUTOFF" and not getattr(
                        current, "OS-EXT-STS:task_state", None):
                    log("starting %s" % name)
                    current.start()
                    wanted[id_file] = current.id
                    continue
            self._delete_by_name(admin, name)
            wanted[id_file] = None
        if not wanted:
            return
        if not same_compute:
            log("nova-compute is new since the servers were booted: re-creating them")
        for id_file in wanted:
            if wanted[id_file] is None:
                name, user = SERVERS[id_file]
                wanted[id_file] = self._boot(user, name, flavor, image)
        for id_file, server_id in wanted.items():
            name, user = SERVERS[id_file]
            server_id = self._wait_active(user, name, server_id, flavor, image)
            self.write_file(id_file, server_id + "\n", 0o644)
        if compute_gen:
            self.write_file(GEN_FILE, compute_gen + "\n", 0o644)

    @staticmethod
    def _server_by_id(nova, server_id):
        if not server_id:
            return None
        try:
            return nova.servers.get(server_id)
        except nova_exc.NotFound:
            return None

    def _delete_by_name(self, admin, name):
        olds = [s for s in admin.servers.list(search_opts={
            "all_tenants": 1, "name": "^%s$" % name}) if s.name == name]
        for old in olds:
            log("deleting %s %s (%s)" % (name, old.id, old.status))
            old.delete()
        deadline = time.time() + 60
        for old in olds:
            while self._server_by_id(admin, old.id) is not None:
                if time.time() > deadline:
                    raise SystemExit("bootstrap: server %s not deleted in 60s" % old.id)
                time.sleep(0.3)

    def _boot(self, user, name, flavor, image):
        if name == BFV_SERVER:
            return self._boot_from_volume(user, name, flavor, image)
        server = self.nova(user).servers.create(name, image["id"], flavor.id,
                                                nics="none")
        log("booting %s as %s: %s" % (name, user, server.id))
        return server.id

    def _boot_from_volume(self, user, name, flavor, image):
        """A new root volume from the image, then the server on it; the
        volume goes with the server (delete_on_termination)."""
        cinder = self.cinder(user)
        self._delete_stale_volumes(cinder, BFV_VOLUME)
        volume = cinder.volumes.create(size=FLAVOR["disk"], name=BFV_VOLUME,
                                       imageRef=image["id"],
                                       description="minicloud: root volume of %s" % name)
        self._wait_volume(cinder, volume.id, "available")
        bdm = [{"boot_index": 0, "uuid": volume.id, "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": True}]
        server = self.nova(user).servers.create(name, None, flavor.id, nics="none",
                                                block_device_mapping_v2=bdm)
        log("booting %s as %s from volume %s: %s" % (name, user, volume.id, server.id))
        self.write_file("bfv_volume_id", volume.id + "\n", 0o644)
        return server.id

    def _wait_active(self, user, name, server_id, flavor, image, timeout=90):
        """Wait for ACTIVE; a server that goes ERROR is replaced once."""
        nova = self.nova(user)
        retried = False
        deadline = time.time() + timeout
        while True:
            server = nova.servers.get(server_id)
            if server.status == "ACTIVE" and not getattr(
                    server, "OS-EXT-STS:task_state", None):
                return server.id
            if server.status == "ERROR":
                fault = getattr(server, "fault", {}) or {}
                if retried:
                    raise SystemExit("bootstrap: %s went ERROR twice: %s"
                                     % (name, fault.get("message")))
                log("%s went ERROR (%s); deleting it and booting again"
                    % (name, fault.get("message")))
                self._delete_by_name(self.nova(), name)
                server_id = self._boot(user, name, flavor, image)
                retried = True
            if time.time() > deadline:
                raise SystemExit("bootstrap: %s not ACTIVE after %ds (status %s)"
                                 % (name, timeout, server.status))
            time.sleep(0.3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=["identity", "compute"])
    args = parser.parse_args()
    state = os.environ.get("MINICLOUD_STATE")
    if not state:
        sys.exit("bootstrap: MINICLOUD_STATE is not set")
    boot = Bootstrap(state)
    if args.phase == "identity":
        boot.identity()
    else:
        boot.compute(os.environ.get("MINICLOUD_COMPUTE_PIDFILE"))
    log("%s phase done" % args.phase)


if __name__ == "__main__":
    main()

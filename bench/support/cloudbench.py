"""The local cloud for benchmarks: sessions, a throwaway project with its own servers, cleanup.

Every benchmark that touches the cloud works in a project of its own (`nsh-bench-<random>`,
user of the same name, role member), boots its own servers there and deletes the servers, their
images, the user and the project at the end, so it never disturbs what other people and tests do
with the demo project's servers. Loopback only: the cloud's catalog lists 127.0.0.1 endpoints.
"""

import os
import secrets
import shlex
import signal
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.append(os.path.join(REPO, "minicloud"))
# The local cloud's state files (read_state also for the soak, tests/soak/machine.py).
from minicloud_state import STATE, openrc_vars, read_state  # noqa: E402

PYTHON = "/usr/bin/python3"
BOOT_MICROVERSION = "2.52"      # >= 2.37 for networks='none', >= 2.52 for tags at boot
PREFIX = "nsh-bench-"


def cloud_is_up():
    return os.path.exists(os.path.join(STATE, "server_id"))


def session(env):
    from keystoneauth1 import session as ksa_session
    from keystoneauth1.identity import v3
    auth = v3.Password(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"],
                       password=env["OS_PASSWORD"],
                       project_name=env.get("OS_PROJECT_NAME"),
                       project_id=env.get("OS_PROJECT_ID"),
                       user_domain_name=env.get("OS_USER_DOMAIN_NAME", "Default"),
                       project_domain_name=env.get("OS_PROJECT_DOMAIN_NAME", "Default")
                       if not env.get("OS_PROJECT_ID") else None)
    return ksa_session.Session(auth=auth)


def nova(sess, microversion=BOOT_MICROVERSION):
    from novaclient import client
    return client.Client(microversion, session=sess)


def glance(sess):
    from keystoneauth1 import adapter
    return adapter.Adapter(sess, service_type="image", interface="public")


def keystone(sess):
    from keystoneauth1 import adapter
    return adapter.Adapter(sess, service_type="identity", interface="public")


def say(text):
    """Progress on stderr, for the long benchmarks."""
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class BenchProject:
    """A project of its own with one member user; `with BenchProject(...) as project:`."""

    def __init__(self, instances=10):
        self.name = PREFIX + secrets.token_hex(4)
        self.password = secrets.token_urlsafe(16)
        self.instances = instances
        self.admin = session(openrc_vars("admin-openrc"))
        self.project_id = self.user_id = None
        self.server_ids = []

    # -- set-up -----------------------------------------------------------------------------
    def __enter__(self):
        # A benchmark stopped with SIGTERM (make's, a timeout's) still cleans up on its way out.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        ks = keystone(self.admin)
        project = {"name": self.name, "domain_id": "default",
                   "description": "nova-snapshot-hook benchmark (deleted at the end)"}
        self.project_id = ks.post("/projects", json={"project": project}).json()["project"]["id"]
        try:
            self.user_id = ks.post("/users", json={"user": {
                "name": self.name, "domain_id": "default", "password": self.password,
                "default_project_id": self.project_id}}).json()["user"]["id"]
            role = ks.get("/roles", params={"name": "member"}).json()["roles"][0]["id"]
            ks.put(f"/projects/{self.project_id}/users/{self.user_id}/roles/{role}")
            n = self.instances
            nova(self.admin).quotas.update(self.project_id, instances=n, cores=n, ram=64 * n)
            self.session = session(self.env())
            self.nova = nova(self.session)
            self.glance = glance(self.session)
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def env(self):
        base = openrc_vars("openrc")
        return {"OS_AUTH_URL": base["OS_AUTH_URL"], "OS_USERNAME": self.name,
                "OS_PASSWORD": self.password, "OS_PROJECT_NAME": self.name,
                "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
                "OS_REGION_NAME": base.get("OS_REGION_NAME", "RegionOne"),
                "OS_INTERFACE": "public", "OS_IDENTITY_API_VERSION": "3"}

    def openrc(self):
        return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in self.env().items())

    def write_credentials(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.openrc())
        os.chmod(path, 0o600)
        return path

    # -- servers ----------------------------------------------------------------------------
    def boot(self, count, name, batch=25, tags=(), timeout=None):
        """Boot `count` servers named NAME-B-N (multi-create, `batch` per request, each batch
        started when the previous one is ACTIVE); returns their ids."""
        flavor = self.nova.flavors.find(name=read_state_env("MINICLOUD_FLAVOR"))
        image = read_state("image_id")
        made, number = [], 0
        end = time.monotonic() + (timeout or max(600, 5 * count))
        while len(made) < count:
            n, number = min(batch, count - len(made)), number + 1
            prefix = f"{name}-{number}"
            self.nova.servers.create(prefix, image, flavor.id, nics="none", min_count=n,
                                     max_count=n, tags=list(tags) or None)
            made += self._wait_active(prefix, n, end)
        self.server_ids += made
        return made

    def _wait_active(self, prefix, n, end):
        while time.monotonic() < end:
            servers = self.nova.servers.list(search_opts={"name": f"^{prefix}(-[0-9]+)?$"},
                                             limit=-1)
            states = [server.status for server in servers]
            if "ERROR" in states:
                raise RuntimeError(f"{states.count('ERROR')} benchmark server(s) went to ERROR")
            if len(servers) >= n and set(states) == {"ACTIVE"}:
                return [server.id for server in servers]
            time.sleep(0.5)
        raise RuntimeError("benchmark servers did not become ACTIVE in time")

    @classmethod
    def leftovers(cls):
        """The benchmark projects a killed run (SIGKILL) left behind, ready to clean up."""
        admin = session(openrc_vars("admin-openrc"))
        found = []
        for project in keystone(admin).get("/projects").json()["projects"]:
            if project["name"].startswith(PREFIX):
                left = cls.__new__(cls)
                left.name, left.admin, left.project_id, left.server_ids = \
                    project["name"], admin, project["id"], []
                users = keystone(admin).get("/users", params={"name": project["name"]}).json()
                left.user_id = users["users"][0]["id"] if users["users"] else None
                left.nova = nova(left.admin)      # admin: sees and deletes the project's servers
                left.glance = glance(left.admin)
                left.admin_view = True
                found.append(left)
        return found

    def cleanup(self):
        """Delete the project's servers and images, then the user and the project."""
        try:
            if self.project_id and getattr(self, "nova", None):
                self.delete_servers(then=self.delete_images)
                self.delete_images()          # the last backups, finished meanwhile
        finally:
            ks = keystone(self.admin)
            if self.user_id:
                ks.delete(f"/users/{self.user_id}", raise_exc=False)
            if self.project_id:
                ks.delete(f"/projects/{self.project_id}", raise_exc=False)

    def delete_servers(self, timeout=600, then=None):
        """Delete every server of the project and wait until Nova has; `then()` runs while
        nova-compute works through the deletions."""
        mine = {"all_tenants": 1, "project_id": self.project_id} \
            if getattr(self, "admin_view", False) else {}
        servers = self.nova.servers.list(search_opts=mine, limit=-1)
        for server in servers:
            self.nova.servers.delete(server.id)
        if then:
            then()
        end = time.monotonic() + timeout
        while servers and time.monotonic() < end:
            time.sleep(1)
            servers = self.nova.servers.list(search_opts=mine, limit=-1)
        self.server_ids = []

    def images(self, **filters):
        images, url, params = [], "/v2/images", dict(filters, owner=self.project_id, limit=1000)
        while url:
            page = self.glance.get(url, params=params).json()
            images += page.get("images", [])
            url, params = page.get("next"), None
        return images

    def delete_images(self, width=8):
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=width) as pool:
            list(pool.map(lambda image: self.glance.delete(f"/v2/images/{image['id']}",
                                                           raise_exc=False), self.images()))


def read_state_env(key):
    for line in read_state("env").splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1]
    raise KeyError(key)


class Tool:
    """Our CLI with settings, credentials, lock, token cache and attempts file of its own, for
    one server of a BenchProject; `proxy` routes its API calls through a loopback proxy."""

    def __init__(self, project, server_id, directory, proxy=None, settings_extra=""):
        self.directory = directory
        self.credentials = project.write_credentials(os.path.join(directory, "credentials"))
        self.settings = os.path.join(directory, "nova-snapshot-hook.conf")
        root = os.path.join(directory, "root")
        os.makedirs(root, exist_ok=True)
        with open(self.settings, "w", encoding="utf-8") as handle:
            handle.write(f"[server]\nid = {server_id}\nidentity_root = {root}\nmetadata_url =\n"
                         f"[snapshot]\nlock = {directory}/lock\n"
                         f"[cloud]\ncredentials = {self.credentials}\n"
                         + (f"https_proxy = {proxy}\n" if proxy else "")
                         + f"[log]\nsyslog = no\n{settings_extra}")
        self.root = os.path.join(directory, "host")     # NOVA_SNAPSHOT_HOOK_ROOT: / for the state
        self.state = os.path.join(self.root, "run", "nova-snapshot-hook")   # token, apt hook files
        self.env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8",
                    "NOVA_SNAPSHOT_HOOK_ROOT": self.root,
                    "NOVA_SNAPSHOT_HOOK_CONFIG": self.settings,
                    "PYTHONPATH": REPO}

    def command(self, *args, without=()):
        """The program as /usr/sbin/nova-snapshot-hook runs it (python3 -I, then main()).
        `without`: modules made unimportable, as on a VM where they are not installed."""
        if args[:1] in (("apt-hook",), ("apt-post-invoke",)):
            options = ()         # apt passes no option: the settings come from the environment
        else:
            options = ("--config", self.settings, "--credentials", self.credentials)
        blocked = "".join(f"sys.modules[{name!r}] = None; " for name in without)
        return [PYTHON, "-I", "-c", f"import sys; {blocked}sys.path.insert(0, sys.argv.pop(1)); "
                "from nova_snapshot_hook.main import main; raise SystemExit(main())",
                REPO, *options, *args]

    def forget_token(self):
        import shutil
        shutil.rmtree(self.state, ignore_errors=True)


def child_cpu():
    """CPU seconds (user + system) of the waited-for children so far."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command, env, stdin=None, timeout=300):
    """(completed process, wall seconds, child CPU seconds) of one whole process."""
    import subprocess
    cpu = child_cpu()
    started = time.monotonic()
    result = subprocess.run(command, env=env, stdin=stdin, capture_output=True, text=True,
                            timeout=timeout)
    return result, time.monotonic() - started, child_cpu() - cpu


def wait_idle(nova_client, server_id, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if getattr(nova_client.servers.get(server_id), "OS-EXT-STS:task_state") is None:
            return
        time.sleep(0.2)
    raise RuntimeError(f"server {server_id} stayed busy")


def machine():
    """`2 CPUs, 23.5 GiB RAM, Debian 12, python 3.11.2`: what the figures were measured on."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    release = "?"
    try:
        with open("/etc/debian_version", encoding="ascii") as handle:
            release = "Debian " + handle.read().strip()
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs, {pages / 2**30:.1f} GiB RAM, {release}, python "
            f"{sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")


def cloud_cpu():
    """CPU seconds (user + system) used so far by the local cloud's services, per service: every
    process of each service's process group (minicloud/run/<service>.pid). Other people's use of
    the cloud counts too."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups = {}
    run = os.path.join(STATE, "run")
    for name in os.listdir(run):
        if name.endswith(".pid") and not name.endswith(".own.pid"):
            try:
                with open(os.path.join(run, name), encoding="ascii") as handle:
                    groups[int(handle.read().split()[0])] = name[:-4]
            except (OSError, ValueError, IndexError):
                pass
    used = dict.fromkeys(groups.values(), 0.0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = groups.get(int(fields[2]))           # field 5 of stat: the process group
        if group:
            used[group] += (int(fields[11]) + int(fields[12])) / ticks     # utime, stime
    return used


def machine_cpu():
    """CPU seconds the whole machine has been busy (every CPU), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    # /usr/bin/python3 bench/support/cloudbench.py: remove what a killed benchmark left behind.
    for project in BenchProject.leftovers():
        say(f"removing {project.name}: its servers, images, user and project")
        project.cleanup()

"""How the tests run the program, one way each, so that they agree on what "as apt runs it" and
"the real CLI" mean: the command line in a child (run_cli, start_cli), the apt hook with apt's
stream on a pipe (run_hook, start_hook), and the command line in the test's own process
(call_cli). Standard library only: the soak imports it outside pytest."""

import os
import shlex
import subprocess

PYTHON = "/usr/bin/python3"          # Debian's: the interpreter apt_pkg is installed for
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOOK_STREAM = os.path.join(REPO, "tests", "fixtures", "apt-hook", "bookworm-install-new.txt")
ROOT = "NOVA_SNAPSHOT_HOOK_ROOT"
CONFIG = "NOVA_SNAPSHOT_HOOK_CONFIG"
# The site directory every run uses unless told otherwise (tests/conftest.py builds it): the
# program sees only its own dependencies, as on a VM, and not this host's cloud packages, which
# keystoneauth1 and novaclient would import when present (0.87 s of CPU a run, 0.27 s without).
SITE = "NSH_TEST_SITE"          # "none": every run with this host's dist-packages
# /usr/sbin/nova-snapshot-hook on a VM sees only the modules of its dependencies (soak/vm_site.py)
ON_A_VM = ("import site, sys; site.addsitedir(sys.argv.pop(1)); "
           "sys.path.insert(0, sys.argv.pop(1)); "
           "from nova_snapshot_hook.main import main; raise SystemExit(main())")


def cli_command(*args, settings=None, credentials=None, wrap=(), site=None):
    """`wrap`: a command whose last word is a shell script ending in `exec` (to set up a namespace
    first); the command line is appended to that script. `site`: a vm_site directory, to run as
    on a VM (default: $NSH_TEST_SITE when set). `settings` becomes --config, which apt-hook and apt-post-invoke do not take: apt's
    lines name none (run_hook and environment() pass theirs in NOVA_SNAPSHOT_HOOK_CONFIG)."""
    site = site or os.environ.get(SITE, "none")
    site = None if site == "none" else site
    command = [PYTHON, "-I", "-S", "-c", ON_A_VM, site, REPO] if site else \
        [PYTHON, "-m", "nova_snapshot_hook"]
    command += ["--config", str(settings)] if settings else []
    command += ["--credentials", str(credentials)] if credentials else []
    command += [str(arg) for arg in args]
    return [*wrap[:-1], wrap[-1] + " " + shlex.join(command)] if wrap else command


def environment(root, settings=None, env=None, inherit=False):
    """`root` is required: a run without its own NOVA_SNAPSHOT_HOOK_ROOT writes the host's state.
    Not inherited: PATH alone, as apt and cron start the program. Inherited: without OS_* and
    NOVA_SNAPSHOT_HOOK_*, so that the developer's own cloud and settings reach no test."""
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("OS_", "NOVA_SNAPSHOT_HOOK_"))} if inherit else \
        {"PATH": "/usr/bin:/bin"}
    base[ROOT] = str(root)
    if settings is not None:
        base[CONFIG] = str(settings)
    return {**base, **(env or {})}


def start(command, env, stream=None, **popen):
    """`stream` (bytes or a file's path) goes whole on a fresh pipe whose read end's own number
    is APT_HOOK_INFO_FD, as apt does: a fixed number could be the pipe's other end or another
    thread's fd (one in `env` wins, for tests of a bad one). Each end is closed once, here: a
    second close could hit another thread's new fd."""
    options = {"cwd": REPO, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE,
               "encoding": "utf-8", **popen}
    if stream is None:
        return subprocess.Popen(command, env=env, **options)
    if not isinstance(stream, bytes):
        with open(stream, "rb") as source:
            stream = source.read()
    read_end, write_end = os.pipe()
    try:
        try:
            process = subprocess.Popen(command, env={"APT_HOOK_INFO_FD": str(read_end), **env},
                                       pass_fds=(read_end,), **options)
        finally:
            os.close(read_end)
    except BaseException:
        os.close(write_end)
        raise
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(stream)
    return process


def finish(process, timeout):
    """Killed when the timeout ends the wait (as by subprocess.run): no test leaves a child."""
    with process:
        try:
            out, err = process.communicate(timeout=timeout)
        except BaseException:
            process.kill()
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def start_cli(*args, root, settings=None, credentials=None, env=None, inherit=True, wrap=(),
              **popen):
    """For a test that needs the program running (to signal it); else run_cli."""
    command = cli_command(*args, settings=settings, credentials=credentials, wrap=wrap)
    return start(command, environment(root, env=env, inherit=inherit), **popen)


def run_cli(*args, timeout=180, **options):
    return finish(start_cli(*args, **options), timeout)


def start_hook(stream=HOOK_STREAM, *, root, settings=None, env=None, wrap=(), command=None,
               **popen):
    """The apt hook as apt starts it, its whole stream written when this returns. `stream` None:
    no pipe, as for a hook whose fd is gone. `command`: for a test's own Python code around the
    hook."""
    return start(command or cli_command("apt-hook", wrap=wrap),
                 environment(root, settings, env), stream, **popen)


def run_hook(stream=HOOK_STREAM, *, timeout=120, **options):
    return finish(start_hook(stream, **options), timeout)


def call_cli(*argv, capsys=None):
    """In this process: for tests that patch the program's modules, or would pay an interpreter
    start-up for each of many cases. argparse's refusals (SystemExit) give the status too, as
    they do to the program; the output is read from `capsys` when given, else left there."""
    from nova_snapshot_hook.main import main
    argv = [str(arg) for arg in argv]
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr() if capsys is not None else (None, None)
    return subprocess.CompletedProcess(argv, status, out, err)

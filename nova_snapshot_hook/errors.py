"""The one exception type the CLI turns into a single line for the user.

Every failure the user can act on is raised as a HookError whose message says what happened and
whose ``fix`` names the file, line or key to change. Nothing else may reach the user as a traceback.
"""

# The exit-code contract (doc/exit-codes.md, the man page's EXIT STATUS): one meaning per code.
EXIT_OK = 0
EXIT_FAILURE = 1      # the operation failed: the cloud refused, failed or did not answer in time
EXIT_USAGE = 2        # the user must fix something: arguments, settings, credentials, files
# `status` and `fleet status` speak the monitoring-plugin convention instead (Nagios, Icinga,
# NRPE take their status as it is): 0 OK, then these.
EXIT_WARNING = 1      # a series is stale
EXIT_CRITICAL = 2     # a series is failing
EXIT_UNKNOWN = 3      # cannot tell: the backups cannot be read, or the command could not run


class HookError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message, fix=None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self):
        return f"{self.message} ({self.fix})" if self.fix else self.message


class Interrupted(HookError):
    """SIGHUP, SIGTERM (or SIGINT where KeyboardInterrupt would not do) ended the run: a failure
    like any other, so the failed hooks run and strict mode stops apt."""


class ConfigError(HookError):
    """The settings file or the command line is wrong."""
    exit_code = EXIT_USAGE


class CredentialsError(HookError):
    """The credentials are missing, unreadable, unsafe or malformed."""
    exit_code = EXIT_USAGE


class IdentityError(HookError):
    """This machine's server id cannot be found, or the sources disagree."""
    exit_code = EXIT_USAGE      # each one's fix is [server] id


class CloudError(HookError):
    """The cloud refused, failed or did not answer in time."""


class CaptureTimeout(CloudError):
    """The backup was requested but its disk was not captured within the wait."""


class ActionRefused(CloudError):
    """Nova refused a server action with 400 or 409; the caller may fall back or wait."""

    def __init__(self, message, status, detail, fix=None):
        super().__init__(message, fix)
        self.status = status
        self.detail = detail


class AccessRuleRefused(CloudError):
    """The cloud refused a request that the application credential's access rules do not allow
    (keystonemiddleware answers 401); `rule` is the rule that would allow it."""

    def __init__(self, message, rule, fix=None):
        super().__init__(message, fix)
        self.rule = rule

    def for_operator(self, command):
        """For the commands beyond what a VM's own restricted credential is for."""
        self.fix = (f"'{command}' is meant to run with an operator's credentials: "
                    "--credentials FILE or --use-environment")
        return self

"""Read the stream apt writes to a DPkg::Pre-Install-Pkgs hook (protocol version 3, or 2).

The stream is ``VERSION 3``, apt's whole configuration as %-encoded ``key=value`` lines, a blank
line, then one line per queued dpkg action (doc/apt-hook-protocol.md).

Two steps, each giving a complete value or raising StreamError, never a half-parsed stream:
``read_stream`` drains the fd and parses the VERSION line and the config, leaving the action
lines as bytes (ActionLines); ``ActionLines.parse()`` parses them. So a run that the skip
option or an empty list settles never parses 2,000 action lines.

This module is on the hook's fast path: it imports nothing, because every import there is paid
on every apt run (doc/hook-speed.md).
"""

PROGRAM = "/usr/sbin/nova-snapshot-hook"
MAX_KEPT_BYTES = 16 * 1024 * 1024  # far above any real stream; the rest is still drained
# One read to EOF for any real stream: a buffered read(n) loops until n bytes or EOF, and a
# single chunk is joined without a copy. 64 KiB chunks and their join cost a 2,000-package
# stream 0.2 ms of page faults, on a path that costs one interpreter start-up in all.
READ_CHUNK = 4 << 20

CONFIGURE = "**CONFIGURE**"
REMOVE = "**REMOVE**"
ERROR = "**ERROR**"
DIRECTIONS = ("<", ">", "=")

_HEX_DIGITS = b"0123456789abcdefABCDEF"
_CONFIGURE_END = b" " + CONFIGURE.encode() + b"\n"  # the action is a line's last field
_V3_FIELDS = 9
_V2_FIELDS = 5


class Record(tuple):
    """An immutable value with named fields: a tuple whose items are read by name.

    Stands in for a frozen dataclass or a namedtuple: importing dataclasses costs about 10 ms
    and collections about 2 ms, against a 14 ms interpreter start-up, and a tuple is the
    cheapest object to build per action line. Subclasses set ``__slots__ = ()`` (no instance
    dict, so nothing can be assigned), name their fields in ``_fields`` and may give
    ``_defaults``. Being a tuple, a record compares equal to a tuple of the same values.
    """

    __slots__ = ()
    _fields = ()
    _defaults = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for index, name in enumerate(cls._fields):
            setattr(cls, name, property(lambda self, i=index: self[i]))

    def __new__(cls, *args, **kwargs):
        fields = cls._fields
        if kwargs or len(args) != len(fields):
            if len(args) > len(fields):
                raise TypeError(f"{cls.__name__} takes at most {len(fields)} values")
            values = dict(cls._defaults)
            values.update(zip(fields, args))
            unknown = set(kwargs) - set(fields)
            if unknown:
                raise TypeError(f"{cls.__name__} has no field {sorted(unknown)[0]!r}")
            values.update(kwargs)
            missing = [name for name in fields if name not in values]
            if missing:
                raise TypeError(f"{cls.__name__} needs {missing[0]!r}")
            args = [values[name] for name in fields]
        return tuple.__new__(cls, args)

    def replace(self, **changes):
        return type(self)(**{**dict(zip(self._fields, self)), **changes})

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self):
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({inner})"


class Action(Record):
    """One action line. Versions and architectures are None where apt wrote ``-``; the
    architecture and multi-arch fields are None throughout a version-2 stream."""

    __slots__ = ()
    _fields = ("name", "old_version", "old_arch", "old_multiarch", "direction",
               "new_version", "new_arch", "new_multiarch", "action", "line")


_new_record = tuple.__new__  # skips Record.__new__'s checks in the per-line loop


class AptConfig:
    """apt's configuration from the dump. Keys are case-insensitive, as in apt itself."""

    __slots__ = ("_values", "_lists")

    def __init__(self, values=None, lists=None):
        self._values = {k.lower(): v for k, v in (values or {}).items()}
        self._lists = {k.lower(): list(v) for k, v in (lists or {}).items()}

    def _set(self, key, value):
        # apt dumps a list item as "Key::=value" (an unnamed child of Key).
        if key.endswith("::"):
            self._lists.setdefault(key[:-2].lower(), []).append(value)
        else:
            self._values[key.lower()] = value

    def get(self, key, default=None):
        return self._values.get(key.lower(), default)

    def get_list(self, key):
        return list(self._lists.get(key.lower(), ()))

    def get_bool(self, key, default=None):
        """The value read as apt reads a boolean; ``default`` when absent or not a boolean."""
        return parse_bool(self._values.get(key.lower()), default)

    def __contains__(self, key):
        key = key.lower()
        return key in self._values or key in self._lists

    def __len__(self):
        return len(self._values) + sum(len(v) for v in self._lists.values())


def parse_bool(text, default=None):
    """apt's StringToBool: 0/1 and yes/no, true/false, on/off, with/without, enable/disable."""
    if text is None:
        return default
    word = text.strip().lower()
    if word in ("1", "yes", "true", "on", "with", "enable"):
        return True
    if word in ("0", "no", "false", "off", "without", "disable"):
        return False
    return default


class StreamError(Exception):
    """apt's stream could not be read, or is not what apt writes: one line naming what is wrong
    and, where one applies, the apt.conf key to set.

    ``config`` is apt's configuration as far as it could be read, or None: only so that a hook
    that gives up still honours NovaSnapshotHook::Require. It is never a stream to go on with."""

    def __init__(self, message, config=None):
        super().__init__(message)
        self.config = config


class AptStream(Record):
    """A stream read whole: the VERSION, apt's configuration, the action lines as read (not yet
    parsed: ``action_lines.parse()``) and the stream's size in bytes. There is no partial
    AptStream: what is not what apt writes raises StreamError instead."""

    __slots__ = ()
    _fields = ("version", "config", "action_lines", "size")


class ActionLines:
    """apt's action lines as read: enough to tell an empty or configure-only list and to
    fingerprint it; ``parse()`` gives every line as an Action, or raises StreamError.

    The bytes stay where they were read (``data[start:]``): slicing them out would copy, and
    fault in, the whole list once more on the skip path, which never needs them."""

    __slots__ = ("_data", "_start", "version", "first_line")

    def __init__(self, data=b"", start=None, version=3, first_line=1):
        self._data = data
        self._start = len(data) if start is None else start
        self.version = version
        self.first_line = first_line   # the stream's line number of the first action line

    @property
    def is_empty(self):
        """True when no line unpacks, removes or fails a package: the list is empty, or every
        line ends in **CONFIGURE** (rule 1 of the decision precedence, doc/decisions.md).

        Read from the bytes at C speed, so that a run the stream settles never parses the
        lines. On well-formed lines this is exactly ``build_changes(...).is_empty``; a line cut
        short (no newline) counts as a change, since what it was is unknown."""
        data, start = self._data, self._start
        if start >= len(data):
            return True
        if data[-1:] != b"\n":
            return False
        # apt unpacks before it configures, so a list with a change nearly always shows one
        # on its first line: that answers without counting (0.4 ms for 2,000 packages).
        if not data[start:data.find(b"\n", start) + 1].endswith(_CONFIGURE_END):
            return False
        return data.count(b"\n", start) == data.count(_CONFIGURE_END, start)

    def fingerprint(self):
        """A digest of the action lines alone: apt's twin runs under unattended-upgrades send
        identical lists, and the list is what makes a transaction, not the config dump."""
        import hashlib  # only the settings-loaded path needs it
        return hashlib.blake2b(memoryview(self._data)[self._start:], digest_size=16).hexdigest()

    def parse(self):
        """Every action line as an Action, in apt's order (a tuple), or StreamError naming
        the first line that is not what apt writes: never some of the lines."""
        block = self._data[self._start:]
        if not block:
            return ()
        try:
            with PausedCycleCollection():
                return _parse_action_lines(block, self.version, self.first_line)
        except StreamError:
            raise
        except Exception as exc:  # a parser bug must not abort apt (as in read_stream)
            raise StreamError(f"parsing apt's action lines failed (a bug, please report):"
                              f" {exc!r}") from exc

    def __repr__(self):
        return (f"ActionLines(version={self.version!r}, bytes={len(self._data) - self._start},"
                f" first_line={self.first_line!r})")


def read_stream(fileobj, program=PROGRAM, max_kept=MAX_KEPT_BYTES):
    """Read ``fileobj`` (binary) to EOF and parse its VERSION line and config: an AptStream,
    whose action lines are left as bytes. Raises StreamError, and nothing else, on bad input.

    Draining comes first: apt blocks on a full 64 KiB pipe while holding the dpkg lock, so
    every byte is read even when the stream is garbage or too large to keep.
    """
    chunks = []
    kept = total = 0
    problem = None
    try:
        while True:
            chunk = fileobj.read(READ_CHUNK)
            if not chunk:
                # None only comes from a non-blocking fd; apt's is blocking.
                break
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8", "surrogateescape")
            total += len(chunk)
            if kept < max_kept:
                chunks.append(chunk)
                kept += len(chunk)
    except Exception as exc:  # an unreadable fd must not abort apt
        problem = f"reading apt's stream failed after {total} bytes: {exc}"
    data = b"".join(chunks)
    if problem is None and total > max_kept:
        problem = (f"apt's stream is {total} bytes, more than the {max_kept} this hook reads;"
                   " the rest was discarded")
    if problem is not None:
        raise StreamError(problem, _config_as_far_as_read(data[:max_kept], program))
    try:
        return parse_stream(data, program)
    except StreamError:
        raise
    except Exception as exc:  # a parser bug, caught here so that it cannot abort apt
        raise StreamError(f"parsing apt's stream failed (a bug, please report): {exc!r}") from exc


def _config_as_far_as_read(data, program):
    try:
        return parse_stream(data, program).config
    except StreamError as err:
        return err.config
    except Exception:
        return None


def parse_stream(data, program=PROGRAM):
    """The AptStream of a whole stream held in ``data`` (bytes); StreamError when it is not
    what apt writes. The action lines are not parsed (``AptStream.action_lines.parse()``)."""
    options = f"DPkg::Tools::Options::{program}"
    setting = f'set {options}::Version "3" and start the DPkg::Pre-Install-Pkgs line with {program}'
    first_end = data.find(b"\n")
    first = data if first_end < 0 else data[:first_end]
    if not data:
        raise StreamError(f"apt's stream is empty, no VERSION line (is APT_HOOK_INFO_FD set? "
                          f"{setting}, with {options}::InfoFD \"20\")")
    if not first.startswith(b"VERSION "):
        if first.startswith(b"/") and first.endswith(b".deb"):
            raise StreamError(f"apt sent a version-1 stream (.deb paths only): {setting}")
        raise StreamError(f"line 1 is {_show(first)}, not a VERSION line: {setting}")
    version_text = first[len(b"VERSION "):]
    if version_text not in (b"2", b"3"):
        raise StreamError(f"line 1: stream version {_show(version_text)} is not supported"
                          f" (2 and 3 are): {setting}")
    version = int(version_text)
    if first_end < 0:
        raise StreamError("the stream ends after its VERSION line: it was cut short")

    config_end = data.find(b"\n\n", first_end)
    if config_end < 0:
        config, _ = _parse_config(data[first_end + 1:].rstrip(b"\n"), first_line=2)
        raise StreamError("the stream ends inside apt's configuration (no blank line after it):"
                          " it was cut short", config)
    config, error = _parse_config(data[first_end + 1:config_end], first_line=2)
    if error is not None:
        raise StreamError(error, config)
    first_action_line = data.count(b"\n", 0, config_end) + 3
    return AptStream(version, config, ActionLines(data, config_end + 2, version, first_action_line),
                     len(data))


def _parse_config(block, first_line):
    config = AptConfig()
    error = None
    if not block:
        return config, error
    for number, line in enumerate(block.split(b"\n"), first_line):
        key, equals, value = line.partition(b"=")
        if not equals or not key:
            error = error or f"line {number}: {_show(line)} is not a key=value config line"
            continue
        config._set(unquote(key), unquote(value))
    return config, error


class PausedCycleCollection:
    """Pauses the cycle collector while thousands of acyclic tuples are built: in a
    2000-package upgrade its passes cost more than the parsing itself."""

    def __enter__(self):
        import gc  # built into the interpreter: no file to load
        self._gc = gc
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self._was_enabled:
            self._gc.enable()


def _parse_action_lines(block, version, first_line):
    # Decoding the block once, not field by field, keeps a 2000-package upgrade cheap;
    # backslashreplace never produces a space or newline, so the split is unchanged.
    lines = block.decode("utf-8", "backslashreplace").split("\n")
    if lines[-1]:
        raise StreamError(f"line {first_line + len(lines) - 1}: the last action line has no"
                          " newline: the stream was cut short")
    lines.pop()
    wanted = _V3_FIELDS if version >= 3 else _V2_FIELDS
    actions = []
    for number, line in enumerate(lines, first_line):
        # The action (a .deb path) is last and may hold spaces: split only the fields before it.
        fields = line.split(" ", wanted - 1)
        if len(fields) == wanted and "" not in fields:
            if wanted == _V3_FIELDS:
                name, old, old_arch, old_ma, direction, new, new_arch, new_ma, action = fields
            else:
                name, old, direction, new, action = fields
                old_arch = old_ma = new_arch = new_ma = "-"
            problem = _check_action(name, old, direction, new, action)
        else:
            problem = (f"{_show(line)} does not have the {wanted} space-separated fields"
                       f" of a version-{version} action line")
        if problem:
            raise StreamError(f"line {number}: {problem}")
        actions.append(_new_record(Action, (
            name, None if old == "-" else old, None if old_arch == "-" else old_arch,
            None if old_ma == "-" else old_ma, direction, None if new == "-" else new,
            None if new_arch == "-" else new_arch, None if new_ma == "-" else new_ma,
            action, number)))
    return tuple(actions)


def _check_action(name, old, direction, new, action):
    if direction not in DIRECTIONS:
        return f"direction {direction!r} is none of <, >, ="
    if action[0] != "/" and action not in (CONFIGURE, REMOVE, ERROR):
        return f"action {action!r} is neither a .deb path nor **CONFIGURE**/**REMOVE**/**ERROR**"
    if old == "-" and new == "-":
        return f"package {name!r} has neither an old nor a new version"
    return None


def unquote(raw):
    """Decode apt's %xx escapes (bytes -> str). A ``%`` not followed by two hex digits is kept
    as it is; bytes that are not UTF-8 become ``\\xNN`` so that no caller meets surrogates."""
    if b"%" in raw:
        pieces = raw.split(b"%")
        out = bytearray(pieces[0])
        for piece in pieces[1:]:
            if len(piece) >= 2 and piece[0] in _HEX_DIGITS and piece[1] in _HEX_DIGITS:
                out.append(int(piece[:2], 16))
                out += piece[2:]
            else:
                out += b"%" + piece
        raw = bytes(out)
    return raw.decode("utf-8", "backslashreplace")


def _show(raw, limit=60):
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    return repr(text[:limit] + "...") if len(text) > limit else repr(text)

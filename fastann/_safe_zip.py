"""Reading zip archives that may be hostile, with every resource bounded by the bytes the
file really holds, never by the sizes it declares.

``fastann.load_model`` reads ``.npz`` files through it; any other reader of a zip-based
format (a ``.keras`` file, say) can use it the same way::

    from fastann._safe_zip import UnsafeZipError, open_zip

    try:
        archive = open_zip(path, max_members=16)
    except UnsafeZipError as error:
        raise ValueError(f"{path!r} is not a valid model file: {error.reason}") from None
    with archive:
        for name in archive.names:
            size = archive.size(name)      # checked: at most 1032 times its stored bytes
            with archive.open(name) as stream:  # decompresses at most ``size`` bytes
                ...
        text = archive.read("config.json", limit=1 << 20)

Checks made by ``open_zip``, before any member's data is read:

- the path is a regular, non-empty file: devices (``/dev/zero``), FIFOs, sockets and
  directories are refused from their ``fstat``, without reading them (a FIFO is opened
  non-blocking, so a missing writer cannot hang the call);
- the central directory parses, has at most ``max_members`` entries and no name twice;
- no member is encrypted (traditional or strong: flag bits 0 and 6), every member is
  stored or deflated (bzip2 and lzma are refused: their ratios are unbounded in
  practice), a stored member's size equals its stored bytes and a deflated member's
  size is at most ``max_ratio`` (default 1032, deflate's own maximum) times its stored
  bytes;
- every member's local header and data lie inside the file, and no two overlap (the
  way "non-recursive" zip bombs make a small file expand to terabytes).

``open`` and ``read`` then return the stream of Python's ``zipfile``, which stops at the
checked size and verifies the CRC at the end (a mismatch raises ``zipfile.BadZipFile``).
The file stays open (one descriptor, held from the ``fstat``) until ``close``, so it
cannot be swapped for another between the checks and the reads.
"""
import os
import stat
import struct
import zipfile
import zlib

DEFLATE_MAX_RATIO = 1032  # deflate cannot expand one byte into more than ~1032
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ENCRYPTED, _STRONG_ENCRYPTION = 0x1, 0x40
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISSOCK, "a socket"))


class UnsafeZipError(ValueError):
    """The file is not a zip archive that can be read safely. ``reason`` says why
    without the path; the message names the path."""

    def __init__(self, path, reason):
        super().__init__(f"{path!r} is not a readable zip archive: {reason}")
        self.path, self.reason = path, reason


def open_zip(path, *, max_members=10_000, max_ratio=DEFLATE_MAX_RATIO):
    """Open the zip archive at ``path`` after checking it (see the module docstring).

    Parameters
    ----------
    path : str or path-like
    max_members : int
        Most entries the central directory may list.
    max_ratio : float
        Largest accepted ratio of a deflated member's size to its stored bytes.

    Returns
    -------
    SafeZip
        Use as a context manager, or call ``close()``.

    Raises
    ------
    FileNotFoundError, PermissionError
        As ``open`` raises them.
    UnsafeZipError
        A ValueError naming the path and the problem.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    handle = os.open(path, flags)
    try:
        status = os.fstat(handle)
        for is_kind, kind in _FILE_KINDS:
            if is_kind(status.st_mode):
                raise UnsafeZipError(path, f"it is {kind}, not a regular file")
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeZipError(path, "it is not a regular file")
        if status.st_size == 0:
            raise UnsafeZipError(path, "it is empty")
        file = os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise
    try:
        return SafeZip(path, file, status.st_size, max_members, max_ratio)
    except BaseException:
        file.close()
        raise


class SafeZip:
    """A checked zip archive (make it with ``open_zip``).

    Attributes
    ----------
    path : str
    file_size : int
        The file's size in bytes, from ``fstat``.
    names : tuple of str
        The members, in directory order.
    """

    def __init__(self, path, file, file_size, max_members, max_ratio):
        self.path, self.file_size = path, file_size
        self._file = file
        try:
            self._zip = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, zlib.error, struct.error, OSError, ValueError,
                EOFError, NotImplementedError) as error:
            raise UnsafeZipError(path, f"not a zip archive (random or truncated data?): "
                                 f"{type(error).__name__}: {error}") from None
        try:
            self._infos = self._check_directory(max_members, max_ratio)
        except BaseException:
            self._zip.close()
            raise
        self.names = tuple(self._infos)

    def _check_directory(self, max_members, max_ratio):
        infos = self._zip.infolist()
        if len(infos) > max_members:
            raise UnsafeZipError(self.path, f"it lists {len(infos)} members; at most "
                                 f"{max_members} are expected")
        by_name = {}
        for info in infos:
            if info.filename in by_name:
                raise UnsafeZipError(self.path, f"member {info.filename!r} appears twice")
            by_name[info.filename] = info
            self._check_member(info, max_ratio)
        spans = sorted((self._data_span(info) + (info.filename,) for info in infos))
        for (_, end, name), (start, _, other) in zip(spans, spans[1:]):
            if start < end:
                raise UnsafeZipError(self.path, f"members {name!r} and {other!r} overlap "
                                     "(a zip bomb's trick)")
        return by_name

    def _check_member(self, info, max_ratio):
        name = info.filename
        if info.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION):
            raise UnsafeZipError(self.path, f"member {name!r} is encrypted")
        if info.compress_type not in _COMPRESSIONS:
            raise UnsafeZipError(self.path, f"member {name!r} uses compression method "
                                 f"{info.compress_type}; only stored and deflated members "
                                 "are read")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise UnsafeZipError(self.path, f"stored member {name!r} declares {info.file_size}"
                                 f" bytes but stores {info.compress_size}")
        if info.file_size > max_ratio * max(info.compress_size, 1):
            raise UnsafeZipError(self.path, f"member {name!r} declares {info.file_size} bytes"
                                 f" from {info.compress_size} compressed bytes, more than "
                                 f"{max_ratio:g} times as many")

    def _data_span(self, info):
        """(start, end) in the file of the member's local header and data."""
        start = info.header_offset
        if start < 0 or start + _LOCAL_HEADER.size > self.file_size:
            raise UnsafeZipError(self.path, f"member {info.filename!r} starts beyond the end "
                                 "of the file")
        self._file.seek(start)
        header = self._file.read(_LOCAL_HEADER.size)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        if signature != _LOCAL_SIGNATURE:
            raise UnsafeZipError(self.path, f"member {info.filename!r} has no local header "
                                 "where the directory says it starts")
        end = start + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if end > self.file_size:
            raise UnsafeZipError(self.path, f"member {info.filename!r} declares "
                                 f"{info.compress_size} stored bytes, beyond the end of the "
                                 f"{self.file_size}-byte file")
        return start, end

    def size(self, name):
        """The member's uncompressed size in bytes (checked against its stored bytes)."""
        return self._info(name).file_size

    def open(self, name):
        """A binary stream of the member's content: at most ``size(name)`` bytes, its CRC
        checked at the end."""
        return self._zip.open(self._info(name))

    def read(self, name, limit=None):
        """The member's content as bytes; refused if larger than ``limit`` bytes."""
        size = self.size(name)
        if limit is not None and size > limit:
            raise UnsafeZipError(self.path, f"member {name!r} holds {size} bytes; at most "
                                 f"{limit} are expected")
        with self.open(name) as stream:
            return stream.read()

    def _info(self, name):
        try:
            return self._infos[name]
        except KeyError:
            raise KeyError(f"{self.path!r} has no member {name!r}") from None

    def close(self):
        self._zip.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

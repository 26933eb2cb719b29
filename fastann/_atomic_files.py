"""Writing files so that a crash, a full disk or an exception leaves either the old file
or the whole new one, never half a file, with the replaced file's permission bits.
fastann's ``.npz`` writer (``fastann.saving``) and the ``.keras`` and ONNX writers
(``fastann.export``) all write through ``write_atomically``.
"""
import errno
import os
import secrets
import stat


def existing_target(path):
    """(the path to replace, its permission bits or None): a symbolic link is followed
    to the file it names, anything but a regular file is refused (ValueError), and so
    is a file this user may not write (PermissionError), as ``open(path, "w")`` would
    refuse it: the rename that replaces it needs only the directory's permission, and
    would silently overwrite a file its owner had made read-only."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(status.st_mode):
        raise ValueError(f"cannot save to {path!r}: it exists and is not a regular file "
                         f"(mode {stat.filemode(status.st_mode)})")
    if not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, f"cannot save to {path!r}: the file exists "
                              f"and is read-only for this user (mode "
                              f"{stat.filemode(status.st_mode)}); make it writable or "
                              "save elsewhere", target)
    return target, stat.S_IMODE(status.st_mode)


def write_atomically(path, write, mode=None):
    """Call ``write(file)`` on a temporary file beside ``path``, sync it and rename it over
    ``path``, so a crash leaves the old file or the whole new one, never half a file.
    ``mode``: the permission bits to give it (``existing_target``'s, the replaced
    file's); None leaves the umask's. The ``.npz``, ``.keras`` and ONNX writers use it."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary, handle = _create_temporary(directory, os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            if mode is not None:  # the replaced file's permissions, not the umask's
                os.chmod(file.fileno() if os.chmod in os.supports_fd else temporary, mode)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _create_temporary(directory, name):
    """A new hidden file beside the target. os.open with mode 0o666 lets the umask set
    the final file's permissions, as np.savez would."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory!r}")


def _fsync_directory(directory):
    """Make the rename itself durable where the platform allows (not on Windows)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)

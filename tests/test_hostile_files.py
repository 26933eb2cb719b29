"""Model files made by an attacker: load_model refuses each with a ValueError naming the
file, allocates nothing sized by what the file declares, never blocks or reads an
endless stream, and leaves the file as it was; save keeps the replaced file's mode."""
import hashlib
import io
import json
import os
import stat
import struct
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastann as fa
from fastann import _safe_zip

GIB = 1 << 30


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid, compiled, trained model file."""
    generator = np.random.default_rng(0)
    X = generator.normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(np.int64)
    model = fa.Model([fa.Dense(5, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=4, dtype="float64", seed=1)
    model.compile(loss="binary_crossentropy", optimizer=fa.Adam(lr=0.01))
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    return model.save(tmp_path_factory.mktemp("saved") / "good.npz")


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def assert_refused(path, match=None):
    """load_model raises a ValueError naming the file, and the file is unchanged."""
    before = digest(path) if os.path.isfile(path) else None
    with pytest.raises(ValueError, match=match) as error:
        fa.load_model(path)
    assert str(path) in str(error.value)
    assert "not a valid fastann model file" in str(error.value)
    if before is not None:
        assert digest(path) == before
    return error.value


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path, contents, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, content in contents.items():
            archive.writestr(name, content)
    return path


def central_entry(content, name):
    """Offset of ``name``'s central-directory record in the zip bytes ``content``."""
    offset = content.find(b"PK\x01\x02" + b"")
    while offset >= 0:
        length = struct.unpack_from("<H", content, offset + 28)[0]
        if content[offset + 46:offset + 46 + length] == name.encode():
            return offset
        offset = content.find(b"PK\x01\x02", offset + 4)
    raise AssertionError(f"no central record for {name}")


def patched(source, target, name, **fields):
    """Copy the zip ``source`` to ``target`` with fields of ``name``'s central record
    replaced: flags, compressed, size, offset."""
    content = bytearray(open(source, "rb").read())
    entry = central_entry(bytes(content), name)
    layout = {"flags": (8, "<H"), "compressed": (20, "<I"), "size": (24, "<I"),
              "offset": (42, "<I")}
    for field, value in fields.items():
        position, form = layout[field]
        struct.pack_into(form, content, entry + position, value)
    target.write_bytes(bytes(content))
    return target


def small_deflated(tmp_path, saved):
    return write_zip(tmp_path / "deflated.npz", members(saved), zipfile.ZIP_DEFLATED)


# ------------------------------------------------------- sizes the file declares
@pytest.mark.parametrize("forge", ["size", "both", "deflated"])
def test_a_small_file_claiming_a_huge_member_allocates_nothing(tmp_path, saved, forge):
    """A ~2 KB file whose directory claims a 1.5 GiB params member."""
    if forge == "deflated":
        source, fields = small_deflated(tmp_path, saved), {"size": 3 * GIB // 2}
    else:
        source = saved
        fields = {"size": 3 * GIB // 2}
        if forge == "both":
            fields["compressed"] = 3 * GIB // 2
    path = patched(source, tmp_path / "forged.npz", "params.npy", **fields)
    assert os.path.getsize(path) < 8192
    tracemalloc.start()
    try:
        error = assert_refused(path, "params.npy")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"load_model allocated {peak} bytes for a refused file"
    assert "declares" in str(error)


def test_overlapping_members_are_refused(tmp_path, saved):
    """Two directory entries pointing at the same data: the zip-bomb trick of making a
    small file expand many times over."""
    content = open(saved, "rb").read()
    config_offset = struct.unpack_from("<I", content, central_entry(content, "config.npy")
                                       + 42)[0]
    path = patched(saved, tmp_path / "overlap.npz", "params.npy", offset=config_offset)
    assert_refused(path, "overlap")


def test_a_member_starting_beyond_the_end_is_refused(tmp_path, saved):
    path = patched(saved, tmp_path / "beyond.npz", "params.npy", offset=10**9)
    assert_refused(path, "beyond the end")


def test_an_implausible_compression_ratio_is_refused(tmp_path):
    """Real deflated data expanding more than 1032 times cannot be deflate's output with
    the sizes it declares; even a genuine 1000x member is bounded by the file."""
    zeros = np.zeros(4_000_000)  # 32 MB that deflate stores in ~31 KB
    buffer = io.BytesIO()
    np.save(buffer, zeros)
    path = write_zip(tmp_path / "bomb.npz", {"params.npy": buffer.getvalue()},
                     zipfile.ZIP_DEFLATED)
    compressed = zipfile.ZipFile(path).getinfo("params.npy").compress_size
    forged = patched(path, tmp_path / "bomb2.npz", "params.npy",
                     size=compressed * 2000)
    assert_refused(forged, "more than 1032 times")


# ------------------------------------------------------ what the path points at
def test_dev_zero_is_refused_without_reading(tmp_path):
    assert_refused("/dev/zero", "character device")
    link = tmp_path / "model.npz"
    link.symlink_to("/dev/zero")
    assert_refused(link, "character device")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            fa.load_model(fifo)
        except ValueError as error:
            outcome.append(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=30)
    if thread.is_alive():  # unblock it: open the FIFO's writing end
        with open(fifo, "wb"):
            pass
        pytest.fail("load_model blocked on a FIFO")
    assert outcome and "FIFO" in str(outcome[0]) and str(fifo) in str(outcome[0])


def test_a_directory_and_an_empty_file_are_refused(tmp_path):
    directory = tmp_path / "dir.npz"
    directory.mkdir()
    assert_refused(directory, "directory")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert_refused(empty, "empty")


def test_missing_file_is_still_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fa.load_model(tmp_path / "nothing.npz")


# ----------------------------------------------------------- members' flags
def test_encrypted_member_is_refused(tmp_path, saved):
    path = patched(saved, tmp_path / "encrypted.npz", "params.npy", flags=0x1)
    assert_refused(path, "'params.npy' is encrypted")
    strong = patched(saved, tmp_path / "strong.npz", "config.npy", flags=0x41)
    assert_refused(strong, "'config.npy' is encrypted")


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_only_stored_and_deflated_members_are_read(tmp_path, saved, compression):
    path = write_zip(tmp_path / "other.npz", members(saved), compression)
    assert_refused(path, "compression method")


def test_duplicate_member_names_are_refused(tmp_path, saved):
    contents = members(saved)
    path = tmp_path / "twice.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in contents.items():
                archive.writestr(name, content)
            archive.writestr("params.npy", contents["params.npy"])
    assert_refused(path, "appears twice")


def test_too_many_members_are_refused_before_any_is_read(tmp_path):
    path = write_zip(tmp_path / "many.npz", {f"a{i}.npy": b"" for i in range(100)})
    assert_refused(path, "lists 100 members; at most 64")


def test_a_file_with_bytes_before_the_archive_still_loads(tmp_path, saved):
    """As zip readers accept (self-extracting archives): offsets shift, bounds hold."""
    path = tmp_path / "prefixed.npz"
    path.write_bytes(b"#!junk\n" * 20 + open(saved, "rb").read())
    np.testing.assert_array_equal(fa.load_model(path).get_weights()[0],
                                  fa.load_model(saved).get_weights()[0])


def test_a_member_that_is_not_npy_is_refused(tmp_path, saved):
    contents = members(saved)
    contents["../../etc/passwd"] = b"root"
    assert_refused(write_zip(tmp_path / "extra.npz", contents), "not an .npy")


def test_trailing_bytes_after_an_array_are_refused(tmp_path, saved):
    contents = members(saved)
    contents["params.npy"] += b"\0" * 16
    assert_refused(write_zip(tmp_path / "long.npz", contents), r"\(248 bytes\) but holds 264 bytes")


def test_negative_second_moments_are_refused(tmp_path, saved):
    with np.load(saved, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    n_params = arrays["params"].shape[0]
    arrays["opt_state"][2 * n_params - 1] = -1.0  # the last of Adam's second moments
    np.savez(tmp_path / "negative.npz", **arrays)
    assert_refused(tmp_path / "negative.npz", "negative mean squared gradients")


# ------------------------------------------------------------ the config JSON
def config_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive["config"][()])


def with_config_text(saved, target, text):
    contents = members(saved)
    buffer = io.BytesIO()
    np.save(buffer, np.array(text))
    contents["config.npy"] = buffer.getvalue()
    return write_zip(target, contents)


@pytest.mark.parametrize("field, literal", [
    ('"init_scale": 0.01', '"init_scale": 1e999'),
    ('"init_scale": 0.01', '"init_scale": -1e400'),
    ('"init_scale": 0.01', '"init_scale": ' + "9" * 400),  # an int too large for a float
    ('"learning_rate": 0.01', '"learning_rate": 1e309'),
    ('"epsilon": 1e-07', '"epsilon": 1e999'),
])
def test_config_numbers_overflowing_to_inf_are_refused(tmp_path, saved, field, literal):
    text = json.dumps(config_of(saved), sort_keys=True)
    assert field in text
    path = with_config_text(saved, tmp_path / "inf.npz", text.replace(field, literal, 1))
    assert_refused(path, "overflow|finite|infinity|too large")


def leaves(value, where=()):
    """Every (path, value) in a JSON tree, containers included."""
    yield where, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, where + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, where + (index,))


def replaced(tree, where, value):
    tree = json.loads(json.dumps(tree))
    if not where:
        return value
    node = tree
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return tree


HOSTILE_VALUES = [None, True, False, 0, -1, 2**31, 2**64, 10**30, -1e308, 1e-320, "",
                  "x", "../../etc", [], [1, 2], {}, {"name": "adam"}, [[[[[]]]]]]


def test_every_malformed_config_value_is_a_value_error_naming_the_file(tmp_path, saved):
    """Each value of the config replaced by each hostile value: load_model loads a
    working model (the value was acceptable) or raises ValueError naming the file;
    nothing else escapes, and the file is never changed."""
    config = config_of(saved)
    path = tmp_path / "malformed.npz"
    outcomes = {"loaded": 0, "refused": 0}
    X = np.zeros((2, 4))
    for where, _ in leaves(config):
        for value in HOSTILE_VALUES:
            text = json.dumps(replaced(config, where, value))
            with_config_text(saved, path, text)
            before = digest(path)
            try:
                model = fa.load_model(path)
            except ValueError as error:
                assert str(path) in str(error), (where, value, error)
                outcomes["refused"] += 1
            else:
                assert np.isfinite(model.predict_proba(X)).all(), (where, value)
                outcomes["loaded"] += 1
            assert digest(path) == before
    assert outcomes["refused"] > 10 * len(HOSTILE_VALUES)


def test_repeated_config_keys_are_refused(tmp_path, saved):
    text = json.dumps(config_of(saved), sort_keys=True)
    text = text.replace('"dtype": "float64"', '"dtype": "float64", "dtype": "float32"', 1)
    assert_refused(with_config_text(saved, tmp_path / "twice.npz", text),
                   r"repeats the keys \['dtype'\]")


def test_deeply_nested_json_is_refused(tmp_path, saved):
    path = with_config_text(saved, tmp_path / "deep.npz", "[" * 200_000 + "]" * 200_000)
    assert_refused(path)


# ------------------------------------------------------------------ save side
def test_save_keeps_the_replaced_file_permission_bits(tmp_path, saved):
    model = fa.load_model(saved)
    path = tmp_path / "kept.npz"
    path.write_bytes(b"old")
    for mode in (0o600, 0o640, 0o444, 0o755):
        os.chmod(path, mode)
        model.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
        assert np.array_equal(fa.load_model(path).get_weights()[0],
                              model.get_weights()[0])


def test_a_new_file_gets_the_umask_permissions(tmp_path, saved):
    model = fa.load_model(saved)
    old = os.umask(0o027)
    try:
        path = model.save(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_save_through_a_symlink_replaces_its_target(tmp_path, saved):
    model = fa.load_model(saved)
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    fa.load_model(link)


def test_save_refuses_a_path_that_is_not_a_regular_file(tmp_path, saved):
    model = fa.load_model(saved)
    directory = tmp_path / "dir.npz"
    directory.mkdir()
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    for path in (directory, fifo):
        with pytest.raises(ValueError, match="not a regular file"):
            model.save(path)
    assert directory.is_dir() and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz", "pipe.npz"]


# -------------------------------------------------------- the reusable reader
def test_safe_zip_reads_members_and_bounds_them(tmp_path):
    path = write_zip(tmp_path / "a.keras", {"config.json": b'{"a": 1}',
                                            "model.weights.h5": b"\0" * 5000},
                     zipfile.ZIP_DEFLATED)
    with _safe_zip.open_zip(path, max_members=4) as archive:
        assert archive.names == ("config.json", "model.weights.h5")
        assert archive.size("model.weights.h5") == 5000
        assert archive.read("config.json", limit=100) == b'{"a": 1}'
        with pytest.raises(_safe_zip.UnsafeZipError, match="at most 100"):
            archive.read("model.weights.h5", limit=100)
        with pytest.raises(KeyError, match="no member"):
            archive.open("nothing")
    with pytest.raises(_safe_zip.UnsafeZipError, match="lists 2 members; at most 1"):
        _safe_zip.open_zip(path, max_members=1)
    error = pytest.raises(_safe_zip.UnsafeZipError, _safe_zip.open_zip, "/dev/zero").value
    assert isinstance(error, ValueError) and error.reason.startswith("it is a character")

"""Every error a user of hub can cause, under one root: :class:`HubError`.

Where a builtin exception fits, the hub error inherits it too, so ``except KeyError``
and ``except hub.errors.KeyNotFoundError`` both catch a missing key.
"""

from __future__ import annotations

__all__ = [
    "HubError",
    "StorageError",
    "KeyNotFoundError",
    "InvalidKeyError",
    "ReadOnlyError",
    "StorageConnectionError",
    "CredentialsError",
    "StoragePermissionError",
    "BucketNotFoundError",
    "UnsupportedSchemeError",
    "MissingDependencyError",
    "IntegrationNotInstalledError",
    "UnknownCompressionError",
    "SampleCompressionError",
    "CorruptSampleError",
    "FormatVersionError",
    "CorruptDatasetError",
    "CorruptChunkError",
    "DatasetNotFoundError",
    "DatasetExistsError",
    "TensorMetaError",
    "TensorNotFoundError",
    "TensorExistsError",
    "SampleDtypeError",
    "SampleShapeError",
    "DynamicShapeError",
    "DatasetIndexError",
    "LengthMismatchError",
    "LockedError",
    "VersionControlError",
    "EmptyCommitError",
    "CommitConflictError",
    "MergeConflictError",
    "SampleDecodeError",
    "DatasetNotShareableError",
    "DatasetOptionError",
    "LoaderOptionError",
    "TransformError",
    "TransformPickleError",
    "TransformOptionError",
    "SchedulerError",
    "LinkedSampleError",
    "UnknownCredsKeyError",
    "CredsKeyExistsError",
    "UnsupportedFeatureError",
    "DatasetViewSavingError",
    "ViewNotFoundError",
]


class HubError(Exception):
    """Root of every error hub raises on account of its user's input or environment."""


class StorageError(HubError):
    """A storage provider could not do what was asked."""


class KeyNotFoundError(StorageError, KeyError):
    """A key does not exist in the storage."""

    def __init__(self, key: str, where: str = "") -> None:
        self.key = key
        self.where = where
        msg = f"Key {key!r} does not exist" + (f" in {where}" if where else "") + "."
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError quotes its argument; show the message as written.
        return str(self.args[0])


class InvalidKeyError(StorageError, ValueError):
    """A key is malformed or would escape the storage root."""


class ReadOnlyError(StorageError, PermissionError):
    """A write was attempted on storage (or a dataset) opened read-only."""


class StorageConnectionError(StorageError, ConnectionError):
    """The storage service could not be reached, even after retries."""


class CredentialsError(StorageError, PermissionError):
    """Credentials are missing or were rejected by the storage service."""


class StoragePermissionError(StorageError, PermissionError):
    """The credentials were accepted but do not allow the operation."""


class BucketNotFoundError(StorageError, FileNotFoundError):
    """The bucket named in a URL does not exist."""


class UnsupportedSchemeError(HubError, ValueError):
    """A URL names a scheme no storage provider is registered for."""


class MissingDependencyError(HubError, ImportError):
    """An optional package needed for the requested feature is not installed."""


class IntegrationNotInstalledError(HubError, ImportError):
    """A framework integration (hub-torch, hub-tensorflow) is not installed."""


class UnknownCompressionError(HubError, ValueError):
    """A compression name is not registered, or names a codec that cannot do what was asked."""


class SampleCompressionError(HubError, ValueError):
    """A codec cannot encode the given array (its shape or dtype does not fit the format)."""


class CorruptSampleError(HubError, ValueError):
    """Stored bytes are not a valid sample of the compression they claim to be."""


class FormatVersionError(HubError):
    """Stored data is in a format version this hub-core cannot read."""


class CorruptDatasetError(HubError):
    """A dataset's metadata is missing, malformed or inconsistent."""


class CorruptChunkError(CorruptDatasetError):
    """A chunk or chunk index is malformed or missing."""


class DatasetNotFoundError(HubError, FileNotFoundError):
    """No dataset exists at the given path."""


class DatasetExistsError(HubError, FileExistsError):
    """A dataset already exists where a new one was to be created."""


class TensorMetaError(HubError, ValueError):
    """A tensor's definition (htype, dtype, compression, options) is invalid."""


class TensorNotFoundError(HubError, KeyError):
    """A tensor or group name does not exist in the dataset."""

    def __str__(self) -> str:
        return str(self.args[0])


class TensorExistsError(HubError, ValueError):
    """A tensor or group of that name already exists."""


class SampleDtypeError(HubError, TypeError):
    """A sample's dtype can't be stored in the tensor without changing its values."""


class SampleShapeError(HubError, ValueError):
    """A sample's shape does not fit its tensor's htype or dimensionality."""


class DynamicShapeError(HubError, ValueError):
    """Samples of different shapes can't form one array; use numpy(aslist=True)."""


class DatasetIndexError(HubError, IndexError):
    """An index is out of range or of an unsupported kind."""


class LengthMismatchError(HubError, ValueError):
    """Tensors were given different numbers of samples in one append or extend."""


class LockedError(HubError):
    """Another writer holds the write lock of the branch."""


class VersionControlError(HubError):
    """A version-control operation can't be done as asked (unknown address, write to a commit, ...)."""


class EmptyCommitError(VersionControlError):
    """A commit was asked for with no changes since the last one (pass allow_empty=True)."""


class CommitConflictError(VersionControlError):
    """Another writer moved the branch while this one was committing."""


class MergeConflictError(VersionControlError):
    """Samples changed on both branches; choose a conflict_resolution."""


class SampleDecodeError(CorruptSampleError):
    """A stored sample could not be decoded while reading; ``tensor`` and ``index`` say which."""

    def __init__(self, message: str, tensor: str | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.tensor = tensor
        self.index = index

    @classmethod
    def at(cls, tensor: str, index: int, cause: BaseException) -> SampleDecodeError:
        """The error for sample ``index`` of ``tensor``, whose decoder raised ``cause``."""
        return cls(
            f"Sample {index} of tensor {tensor!r} could not be decoded ({type(cause).__name__}: {cause}). "
            f"Replace it (ds.{tensor}[{index}] = ...) or have the loader skip bad samples (errors='skip').",
            tensor,
            index,
        )


class DatasetNotShareableError(HubError):
    """A dataset that exists only in this process (``mem://``) was sent to another process."""


class DatasetOptionError(HubError, ValueError):
    """An option of hub.empty/load/dataset that hub does not offer."""


class LoaderOptionError(HubError, ValueError):
    """An option given to a loader (``ds.pytorch()``, ``ds.tensorflow()``) is out of range or of the wrong kind."""


class TransformError(HubError):
    """A transform failed on one input; ``index`` names it and ``original`` is what it raised."""

    def __init__(self, message: str, index: int | None = None, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.original = original
        self.__cause__ = original

    def __reduce__(self) -> tuple[type[TransformError], tuple[str, int | None, BaseException | None]]:
        # Carried across processes with its input index and original exception.
        return (type(self), (str(self), self.index, self.original))


class TransformPickleError(HubError, TypeError):
    """A transform, its arguments or its inputs can't be pickled for the chosen scheduler."""


class TransformOptionError(HubError, ValueError):
    """An ``eval`` option is unknown or out of range, or doesn't fit its ``data_in`` and ``ds_out``."""


class SchedulerError(HubError, ValueError):
    """An unknown scheduler, or one that can't reach the dataset's storage."""


class LinkedSampleError(HubError, OSError):
    """A linked sample's file can't be read (missing, unreachable, no credentials) or its link is malformed."""


class UnknownCredsKeyError(TensorMetaError, KeyError):
    """A creds key was named that the dataset does not know (``ds.add_creds_key`` adds one)."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the message as written.
        return str(self.args[0])


class CredsKeyExistsError(TensorMetaError):
    """A creds key was to be given a name that another creds key of the dataset already has."""


class UnsupportedFeatureError(HubError, NotImplementedError):
    """A Hub 2.x call that needs an app or a hosted service hub does not have; the message says what to use instead."""


class DatasetViewSavingError(HubError):
    """A view can't be saved as asked (uncommitted changes it could not name, no commit yet, a bad id)."""


class ViewNotFoundError(HubError, KeyError):
    """No saved view has the id given to ``get_view``/``load_view``/``delete_view`` (Hub 2.x raised ``KeyError``)."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the message as written.
        return str(self.args[0])
